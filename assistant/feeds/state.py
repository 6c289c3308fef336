"""What the last fetch of each feed found, kept in the home as JSON written atomically.

It is a hint, not the library: a missing or damaged file means "never fetched", and the
incremental ingest still embeds nothing that is already stored."""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import asdict, dataclass
from datetime import date, datetime
from pathlib import Path

from assistant.errors import PaperbotError

FILENAME = "fetch-state.json"
log = logging.getLogger("paperbot.feeds")


@dataclass(frozen=True)
class LastFetch:
    at: str  # ISO timestamp, UTC
    papers: int
    newest: str | None  # ISO date of the newest paper seen

    @property
    def newest_day(self) -> date | None:
        return date.fromisoformat(self.newest) if self.newest else None


class FetchState:
    def __init__(self, home: Path) -> None:
        self.path = home / FILENAME

    def load(self) -> dict[str, LastFetch]:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            return {key: LastFetch(**value) for key, value in raw.items()}
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, TypeError, AttributeError) as exc:
            log.warning("%s is unreadable (%s); treating every feed as never fetched", self.path, exc)
            return {}

    def get(self, feed: str) -> LastFetch | None:
        return self.load().get(feed)

    def record(self, feed: str, at: datetime, papers: int, newest: date | None) -> None:
        entries = self.load()
        entries[feed] = LastFetch(at.isoformat(timespec="seconds"), papers, newest.isoformat() if newest else None)
        self._write({key: asdict(value) for key, value in entries.items()})

    def _write(self, data: dict[str, object]) -> None:
        """A temporary file renamed over the old one: a reader sees the old state or the new."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".fetch-state-", suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle, indent=2, sort_keys=True)
            os.replace(tmp, self.path)
        except OSError as exc:
            raise PaperbotError(f"cannot write {self.path}: {exc.strerror or exc}") from None
