"""Several named libraries served by one process: one Engine per library, built on first use.

The bot maps each Discord server (or one channel of it) to a library through
`discord.libraries` = {"guild_id": "name", "guild_id/channel_id": "name"}. A channel entry
wins over its server's; servers and direct messages without an entry use the default
library (`library`, PAPERBOT_LIBRARY). An engine reads only its own library's collections
and keyword index, so a question in one server never retrieves another server's papers.
"""

from __future__ import annotations

import threading

from assistant.engine import Engine


class Libraries:
    def __init__(self, default: Engine, mapping: dict[str, str]) -> None:
        self.default = default
        self.mapping = dict(mapping)
        self._engines: dict[str, Engine] = {default.settings.library: default}
        self._lock = threading.Lock()  # engines are asked for from worker threads

    def name_for(self, guild_id: int | None, channel_id: int | None) -> str:
        if guild_id is not None:
            by_channel = self.mapping.get(f"{guild_id}/{channel_id}") if channel_id is not None else None
            found = by_channel or self.mapping.get(str(guild_id))
            if found:
                return found
        return self.default.settings.library

    def engine(self, name: str) -> Engine:
        """The engine of one library; all share the default's embedding model (loaded once)."""
        with self._lock:
            if name not in self._engines:
                settings = self.default.settings.model_copy(update={"library": name})
                self._engines[name] = Engine(settings, embedder=self.default.embedder)
            return self._engines[name]

    def engine_for(self, guild_id: int | None, channel_id: int | None) -> Engine:
        return self.engine(self.name_for(guild_id, channel_id))
