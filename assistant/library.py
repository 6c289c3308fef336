"""One home's library as several processes share it: the Chroma store, the keyword index
(which carries the library revision), and the writer lock.

- Writers take the lock, bring their view up to date, then per batch read what is stored
  once, plan, write the store, and commit the batch to the keyword index (the commit makes
  the batch visible and bumps the revision).
- Readers check the revision (one stat and one SQLite read) before each question; when any
  process changed the library they reopen the index and, in embedded mode, the Chroma client
  (an embedded client keeps its vector index in memory and never sees other processes' vectors).
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from assistant.errors import PaperbotError
from assistant.lexical import LexicalIndex, connect
from assistant.settings import Settings
from assistant.store import ChromaStore, forget_client
from assistant.writelock import writer_lock


def peek_revision(path: Path) -> dict[str, str] | None:
    """The index file's meta (revision, counts), or None when it is missing or unreadable."""
    if not path.exists():
        return None
    try:
        conn = connect(path, False)
        try:
            return {str(k): str(v) for k, v in conn.execute("SELECT key, value FROM meta")}
        finally:
            conn.close()
    except sqlite3.Error:
        return None


class Library:
    def __init__(self, settings: Settings, embedder_name: Callable[[], str]) -> None:
        self.settings = settings
        self._embedder_name = embedder_name
        self._store: ChromaStore | None = None
        self._store_revision = -1  # the index revision read just before the store was opened
        self._index: LexicalIndex | None = None
        self._refreshing = threading.Lock()  # the bot asks from several worker threads
        self.locked = False

    @property
    def index_path(self) -> Path:
        return self.settings.home / "lexical" / f"{self.settings.collection_prefix()}.sqlite3"

    @property
    def store(self) -> ChromaStore:
        if self._store is None:
            meta = peek_revision(self.index_path)  # read first: a later change looks stale, never fresh
            self._store_revision = int(meta.get("revision", -1)) if meta else -1
            self._store = ChromaStore(self.settings, self._embedder_name())
        return self._store

    def index(self) -> LexicalIndex:
        if self._index is None:
            self._index = LexicalIndex.open(self.index_path, self.settings.home, self.store, locked=self.locked)
        return self._index

    def refresh(self) -> bool:
        """Picks up changes any process committed; True when the store was reopened. What is
        replaced is not closed: a question still running in another thread finishes on it."""
        with self._refreshing:
            index = self.index()
            if not index.current(self.store.revision_token()):
                self._index = None
                index = self.index()
            if self.settings.chroma.url is not None or index.revision == self._store_revision:
                return False
            forget_client(self.settings)
            self._store = None
            self._index = None
            self.index()  # opens the store anew (recording the revision first), then the index
            return True

    def committed(self, revision_before: int) -> None:
        """After this process committed a batch: its own store holds it, so no reopen."""
        if self._store_revision == revision_before:
            self._store_revision = self.index().revision

    def forget_index(self) -> None:
        """After a failed write: the next use reopens the index (rebuilding it if it is stale)."""
        self._index = None

    @contextlib.contextmanager
    def writing(self, wait: bool, notify: Callable[[str], None] | None) -> Iterator[None]:
        with writer_lock(self.settings.home, wait=wait, notify=notify):
            self.locked = True
            try:
                self.refresh()
                yield
            except BaseException:
                self.forget_index()
                raise
            finally:
                self.locked = False

    def remembers_papers(self) -> bool:
        """The keyword index says papers were committed: an empty store is then a lost or
        damaged one, never a new library to fill with the sample."""
        meta = peek_revision(self.index_path)
        if self.index_path.exists() and meta is None:
            raise PaperbotError(
                f"the keyword index {self.index_path} is damaged and the store is empty: "
                "run `paperbot health` and `paperbot repair` before anything is ingested"
            )
        return meta is not None and int(meta.get("papers", "0")) > 0
