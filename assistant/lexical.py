"""The keyword side of retrieval: SQLite FTS5 with bm25() over chunk texts and over titles.

One SQLite file per collection, `<home>/lexical/<collection>.sqlite3`, holds both indexes and
the library revision. It is derived data: every row can be rebuilt from the Chroma store.

- A writer (holding the writer lock) marks the file `writing` before it touches the store,
  and commits the changed papers' rows, `writing = 0` and `revision + 1` in one SQLite
  transaction after the store holds them. That commit is when a batch becomes visible:
  search only returns papers whose title row is committed, so a reader never sees half a
  batch, and the revision tells every process that the library changed.
- The file is rebuilt from the store when it is missing, damaged (not a database,
  truncated), of another schema, out of step with the store's counts, or left `writing` by a
  writer that died (no process holds the writer lock). A rebuild goes to a new file that
  replaces the old one atomically; readers notice the new file at their next question.
- A home that cannot be written gets an index built in memory from the store.

Texts are analysed by `terms` (stop words dropped, Snowball stems) before FTS5 sees them, so
a query matches what it matched with bm25s; FTS5's own tokenizer only splits on spaces.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import Stemmer

from assistant.errors import PaperbotError
from assistant.models import Filters, Paper, date_int, format_flag
from assistant.stopwords import STOPWORDS_EN as STOPWORDS
from assistant.store import ChromaStore, IndexRow
from assistant.writelock import writer_active

log = logging.getLogger(__name__)
WORD = re.compile(r"[a-z0-9]+")
_stemmer = Stemmer.Stemmer("english")
_stemmer_lock = threading.Lock()  # PyStemmer objects are not thread-safe; the bot searches from threads
SCHEMA_VERSION = 3  # 3: title rows hold the paper records
BUSY_MS = 30_000  # a reader waits this long for a writer's commit to finish
INSERT_PAGE = 500  # paper ids per DELETE ... IN (...)


def terms(text: str) -> list[str]:
    """Lower-cased, stop words dropped, Snowball-stemmed: 'Generalizes' and 'generalization' meet."""
    words = [word for word in WORD.findall(text.lower()) if word not in STOPWORDS]
    with _stemmer_lock:
        return list(_stemmer.stemWords(words))


@dataclass(frozen=True)
class LexicalHit:
    key: str
    paper_id: str
    score: float


def _table_sql(name: str, extra: str = "") -> str:
    return f"""
    CREATE TABLE {name}_rows(id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, paper_id TEXT NOT NULL,
        date INTEGER NOT NULL, sources TEXT NOT NULL, terms TEXT NOT NULL{extra});
    CREATE INDEX {name}_rows_paper ON {name}_rows(paper_id);
    CREATE VIRTUAL TABLE {name}_fts USING fts5(terms, content='{name}_rows', content_rowid='id');
    CREATE TRIGGER {name}_rows_ai AFTER INSERT ON {name}_rows BEGIN
        INSERT INTO {name}_fts(rowid, terms) VALUES (new.id, new.terms); END;
    CREATE TRIGGER {name}_rows_ad AFTER DELETE ON {name}_rows BEGIN
        INSERT INTO {name}_fts({name}_fts, rowid, terms) VALUES ('delete', old.id, old.terms); END;
    """


# Title rows carry the paper's record (JSON): questions read papers from here, so the bot
# never opens the papers collection, whose vector index Chroma would load whole.
SCHEMA = (
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    + _table_sql("chunk")
    + _table_sql("title", ", record TEXT NOT NULL")
)


def row_values(row: IndexRow) -> tuple[str, str, int, str, str]:
    """(key, paper_id, date, sources, terms): dates as ints (0 = unknown), source flags as ' src_x ' words."""
    flags = sorted(name for name, value in row.fields.items() if name.startswith("src_") and value)
    sources = f" {' '.join(flags)} " if flags else " "
    return row.key, row.paper_id, int(row.fields.get("date", 0) or 0), sources, " ".join(terms(row.text))


def filter_sql(filters: Filters) -> tuple[str, list[Any]]:
    """The same restriction `store.where_clause` gives Chroma; an unknown date never passes a date filter."""
    clauses: list[str] = []
    args: list[Any] = []
    if filters.since:
        clauses.append("r.date >= ?")
        args.append(date_int(filters.since))
    if filters.until:
        clauses.append("r.date > 0 AND r.date <= ?")
        args.append(date_int(filters.until))
    if filters.input_format:
        clauses.append("instr(r.sources, ?) > 0")
        args.append(f" {format_flag(filters.input_format)} ")
    return "".join(f" AND {clause}" for clause in clauses), args


class Field:
    """One FTS5 index (chunks or titles) inside the index file."""

    def __init__(self, index: LexicalIndex, name: str) -> None:
        self.index = index
        self.name = name

    def top(self, query_terms: list[str], n: int, filters: Filters) -> list[LexicalHit]:
        if not query_terms or n <= 0:
            return []
        match = " OR ".join(f'"{term}"' for term in query_terms)
        where, args = filter_sql(filters)
        sql = (
            f"SELECT r.key, r.paper_id, bm25({self.name}_fts) FROM {self.name}_fts "
            f"JOIN {self.name}_rows r ON r.id = {self.name}_fts.rowid "
            f"WHERE {self.name}_fts MATCH ?{where} ORDER BY bm25({self.name}_fts) LIMIT ?"
        )
        rows = self.index.read(sql, [match, *args, n])
        return [LexicalHit(str(key), str(pid), -float(score)) for key, pid, score in rows]

    def papers_with(self, term: str) -> int:
        """How many papers state this (stemmed) term: its document frequency in the library."""
        sql = (
            f"SELECT count(DISTINCT r.paper_id) FROM {self.name}_fts "
            f"JOIN {self.name}_rows r ON r.id = {self.name}_fts.rowid WHERE {self.name}_fts MATCH ?"
        )
        return int(self.index.read(sql, [f'"{term}"'])[0][0])

    def live_keys(self) -> list[str]:
        return [str(key) for (key,) in self.index.read(f"SELECT key FROM {self.name}_rows", [])]

    def __len__(self) -> int:
        return int(self.index.read(f"SELECT count(*) FROM {self.name}_rows", [])[0][0])


class IndexDamaged(Exception):
    """The index file cannot be read as it should: it is rebuilt from the store."""


def connect(path: Path | None, writable: bool) -> sqlite3.Connection:
    if path is None:
        conn = sqlite3.connect(":memory:", check_same_thread=False)
    elif writable:
        conn = sqlite3.connect(str(path), timeout=BUSY_MS / 1000, check_same_thread=False)
    else:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=BUSY_MS / 1000, check_same_thread=False)
    conn.isolation_level = None  # transactions are explicit (BEGIN IMMEDIATE ... COMMIT)
    return conn


def can_write(path: Path) -> bool:
    folder = path.parent
    if path.exists():
        return os.access(path, os.W_OK) and os.access(folder, os.W_OK)
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return os.access(folder, os.W_OK)


def _damage(exc: sqlite3.Error) -> Exception:
    """A busy database is worth a clear message; anything else means the file is unusable."""
    text = str(exc)
    if isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text):
        return PaperbotError(f"the keyword index is busy (another process holds it): {text}; try again")
    return IndexDamaged(text)


class LexicalIndex:
    """The open index file (or an in-memory copy) and the library revision it shows."""

    def __init__(self, conn: sqlite3.Connection, path: Path | None, home: Path) -> None:
        self.conn = conn
        self.path = path
        self.home = home
        self._lock = threading.Lock()  # one sqlite3 connection, shared by the bot's worker threads
        self.chunks = Field(self, "chunk")
        self.titles = Field(self, "title")
        self.file_id = _file_id(path)
        self.meta = self.read_meta()
        self.revision = int(self.meta.get("revision", 0))

    # ---- reading -----------------------------------------------------------

    def read(self, sql: str, args: Sequence[Any]) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return self.conn.execute(sql, list(args)).fetchall()
            except sqlite3.Error as exc:
                raise _damage(exc) from exc

    def read_meta(self) -> dict[str, str]:
        return {str(k): str(v) for k, v in self.read("SELECT key, value FROM meta", [])}

    def papers(self, paper_ids: Sequence[str]) -> dict[str, Paper]:
        """The records of these papers whose batch has committed (what search may show)."""
        found: dict[str, Paper] = {}
        for start in range(0, len(paper_ids), INSERT_PAGE):
            page = list(paper_ids[start : start + INSERT_PAGE])
            marks = ",".join("?" * len(page))
            rows = self.read(f"SELECT key, record FROM title_rows WHERE key IN ({marks})", page)
            found.update((str(key), Paper.from_json(record)) for key, record in rows)
        return found

    def paper_ids(self) -> list[str]:
        return self.titles.live_keys()

    def committed(self, paper_ids: Sequence[str]) -> set[str]:
        """The papers among these whose batch has committed (what search may show)."""
        found: set[str] = set()
        for start in range(0, len(paper_ids), INSERT_PAGE):
            page = list(paper_ids[start : start + INSERT_PAGE])
            marks = ",".join("?" * len(page))
            found.update(str(k) for (k,) in self.read(f"SELECT key FROM title_rows WHERE key IN ({marks})", page))
        return found

    def current(self, store_token: str | None = None) -> bool:
        """One stat and one read: False once another process has changed the library (or
        replaced the file), so the caller reopens the store and the index."""
        if self.path is None:  # in memory: until the home can hold a file again
            return not can_write(self.home / "lexical") or writer_active(self.home)
        if _file_id(self.path) != self.file_id:
            return False
        try:
            meta = self.read_meta()
        except IndexDamaged:
            return False
        if store_token is not None and meta.get("store_token") != store_token:
            return False
        return int(meta.get("revision", 0)) == self.revision

    def problem(self, chunks: int, store_token: str | None, locked: bool) -> str | None:
        """Why this index cannot be trusted for the store as it is, or None. Only the chunk
        count is compared: counting papers would load the papers collection's vector index,
        and every paper has chunks, so a paper added or removed changes the chunk count too."""
        meta = self.meta
        if meta.get("version") != str(SCHEMA_VERSION):
            return "written by another version"
        if meta.get("writing") == "1":
            if not locked and writer_active(self.home):
                return None  # a writer is at work; its commit brings the index up to date
            return "left unfinished by a writer that stopped"
        if int(meta.get("chunks", -1)) != chunks:
            return "out of step with the store"
        if store_token is not None and meta.get("store_token") != store_token:
            return "changed by another process"
        return None

    # ---- writing (the caller holds the writer lock) -------------------------

    def begin_write(self) -> None:
        self._execute_in_transaction(lambda c: c.execute("UPDATE meta SET value = '1' WHERE key = 'writing'"))

    def commit_changes(
        self, chunk_rows: Iterable[IndexRow], title_rows: Iterable[IndexRow], changed: set[str], token: str | None
    ) -> None:
        """The changed papers' rows (rows of written papers replace theirs; removed papers
        have none), the counts, `writing = 0` and the next revision, in one transaction."""

        def apply(conn: sqlite3.Connection) -> None:
            ids = sorted(changed)
            for start in range(0, len(ids), INSERT_PAGE):
                page = ids[start : start + INSERT_PAGE]
                marks = ",".join("?" * len(page))
                conn.execute(f"DELETE FROM chunk_rows WHERE paper_id IN ({marks})", page)
                conn.execute(f"DELETE FROM title_rows WHERE paper_id IN ({marks})", page)
            insert_rows(conn, "chunk", chunk_rows)
            insert_rows(conn, "title", title_rows)
            write_meta(conn, self.revision + 1, token)

        self._execute_in_transaction(apply)
        self.meta = self.read_meta()
        self.revision = int(self.meta["revision"])

    def _execute_in_transaction(self, work: Callable[[sqlite3.Connection], object]) -> None:
        with self._lock:
            try:
                self.conn.execute("BEGIN IMMEDIATE")
                try:
                    work(self.conn)
                except BaseException:
                    self.conn.execute("ROLLBACK")
                    raise
                self.conn.execute("COMMIT")
            except sqlite3.Error as exc:
                if _storage_full(exc):
                    raise PaperbotError(f"cannot write the keyword index in {self.path}: {exc}") from None
                raise _damage(exc) from exc

    def close(self) -> None:
        with self._lock:
            self.conn.close()

    # ---- opening and rebuilding ---------------------------------------------

    @classmethod
    def open(cls, path: Path, home: Path, store: ChromaStore, *, locked: bool = False) -> LexicalIndex:
        """The index at `path`, rebuilt from the store first when it cannot be trusted.
        `locked`: the caller holds the writer lock (so no other writer is at work)."""
        token = store.revision_token()
        index: LexicalIndex | None = None
        problem: str | None = "missing"
        if path.exists():
            try:
                index = cls(connect(path, can_write(path)), path, home)
                problem = index.problem(store.chunk_count(), token, locked)
            except IndexDamaged as exc:
                problem = f"damaged ({exc})"
        if index is not None and problem is None:
            return index
        if path.exists():
            log.warning("keyword index %s: %s; rebuilding it from the store", path, problem)
        revision = index.revision if index is not None else 0
        if index is not None:
            index.close()
        return cls.rebuild(path, home, store, locked=locked, revision=revision + 1)

    @classmethod
    def rebuild(cls, path: Path, home: Path, store: ChromaStore, *, locked: bool, revision: int = 1) -> LexicalIndex:
        """A new file from the store, swapped in atomically; in memory when the home cannot
        be written or another writer is at work (it will bring the file up to date)."""
        if not can_write(path):
            return cls.in_memory(store, home)
        with contextlib.ExitStack() as stack:
            if not locked:
                from assistant.writelock import LibraryBusy, writer_lock

                try:
                    stack.enter_context(writer_lock(home, wait=False))
                except LibraryBusy:
                    return cls.in_memory(store, home)
            build_file(path, store, revision)
        return cls(connect(path, True), path, home)

    @classmethod
    def in_memory(cls, store: ChromaStore, home: Path) -> LexicalIndex:
        conn = connect(None, True)
        fill(conn, store, 0)
        return cls(conn, None, home)


def _file_id(path: Path | None) -> tuple[int, int] | None:
    if path is None:
        return None
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_dev, stat.st_ino


def _storage_full(exc: sqlite3.Error) -> bool:
    return any(marker in str(exc) for marker in ("disk I/O error", "full", "readonly", "File too large"))


def insert_rows(conn: sqlite3.Connection, name: str, rows: Iterable[IndexRow]) -> None:
    if name == "title":
        sql = "INSERT OR REPLACE INTO title_rows(key, paper_id, date, sources, terms, record) VALUES (?, ?, ?, ?, ?, ?)"
        conn.executemany(sql, ((*row_values(row), row.record) for row in rows))
        return
    sql = f"INSERT OR REPLACE INTO {name}_rows(key, paper_id, date, sources, terms) VALUES (?, ?, ?, ?, ?)"
    conn.executemany(sql, (row_values(row) for row in rows))


def write_meta(conn: sqlite3.Connection, revision: int, token: str | None) -> None:
    papers = conn.execute("SELECT count(*) FROM title_rows").fetchone()[0]
    chunks = conn.execute("SELECT count(*) FROM chunk_rows").fetchone()[0]
    values = {"version": SCHEMA_VERSION, "revision": revision, "writing": 0, "papers": papers, "chunks": chunks}
    values["store_token"] = token or ""
    conn.executemany("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", [(k, str(v)) for k, v in values.items()])


def fill(conn: sqlite3.Connection, store: ChromaStore, revision: int) -> None:
    token = store.revision_token()  # read first: a change after it makes the index look stale, never fresh
    conn.executescript(SCHEMA)
    conn.execute("BEGIN")
    insert_rows(conn, "chunk", store.chunk_rows())
    insert_rows(conn, "title", store.title_rows())
    write_meta(conn, revision, token)
    conn.execute("COMMIT")


def build_file(path: Path, store: ChromaStore, revision: int) -> None:
    """Built beside the old file and swapped in, so a crash mid-build leaves a file that is
    either the old one or complete."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    tmp.unlink(missing_ok=True)
    try:
        conn = connect(tmp, True)
        try:
            fill(conn, store, revision)
        finally:
            conn.close()
        os.replace(tmp, path)
    except (OSError, sqlite3.Error) as exc:
        tmp.unlink(missing_ok=True)
        reason = exc.strerror if isinstance(exc, OSError) else str(exc)
        raise PaperbotError(f"cannot write the keyword index in {path.parent}: {reason or exc}") from None
