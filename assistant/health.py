"""`paperbot health` and `paperbot repair`: what state a home's library is in, and what can be
fixed from what is stored (the keyword index is derived; chunks without a paper record are
leftovers of an interrupted run). A damaged Chroma store cannot be fixed from itself."""

from __future__ import annotations

import os
import sqlite3
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from assistant.errors import PaperbotError
from assistant.lexical import SCHEMA_VERSION, build_file, connect
from assistant.library import peek_revision
from assistant.writelock import writer_active

if TYPE_CHECKING:
    from assistant.engine import Engine


@dataclass
class Health:
    ok: bool
    store: str
    papers: int = 0
    chunks: int = 0
    keyword_index: str = "ok"
    revision: int = 0
    writer_active: bool = False
    writable: bool = True
    problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def index_state(engine: Engine, counts: tuple[int, int], deep: bool) -> str:
    path = engine.library.index_path
    meta = peek_revision(path)
    if not path.exists():
        return "missing (rebuilt from the store on next use)"
    if meta is None or (deep and not quick_check(path)):
        return "damaged (rebuilt from the store on next use, or by `paperbot repair`)"
    if meta.get("version") != str(SCHEMA_VERSION):
        return "from another version (rebuilt on next use)"
    if meta.get("writing") == "1":
        return "being written" if writer_active(engine.settings.home) else "left unfinished by a stopped writer"
    if (int(meta.get("papers", -1)), int(meta.get("chunks", -1))) != counts:
        return "out of step with the store (rebuilt on next use)"
    return "ok"


def quick_check(path: Path) -> bool:
    try:
        conn = connect(path, False)
        try:
            return bool(conn.execute("PRAGMA quick_check").fetchone()[0] == "ok")
        finally:
            conn.close()
    except sqlite3.Error:
        return False


def check(engine: Engine, deep: bool = False) -> Health:
    """Cheap by default (a container health check runs it often); `deep` also reads every
    page of the keyword index and every chunk's metadata."""
    home = engine.settings.home
    writable = os.access(home, os.W_OK) if home.exists() else True
    try:
        counts = engine.store.counts()
    except PaperbotError as exc:
        return Health(False, f"unusable: {exc}", writable=writable, problems=[str(exc)])
    state = index_state(engine, counts, deep)
    meta = peek_revision(engine.library.index_path) or {}
    revision = int(meta.get("revision", 0))
    health = Health(True, "ok", counts[0], counts[1], state, revision, writer_active(home), writable)
    if not state.startswith(("ok", "being written", "missing")):  # a missing one is simply built on first use
        health.problems.append(f"keyword index: {state}")
    orphans = orphan_chunks(engine) if deep else []
    if orphans:
        health.problems.append(f"{len(orphans)} chunks without a paper record (`paperbot repair` removes them)")
    health.ok = not health.problems
    return health


def orphan_chunks(engine: Engine) -> list[str]:
    """Chunks whose paper has no record: left by a run that stopped before the record was written."""
    papers = set(engine.store.stored_papers())
    return [key for key, paper_id in engine.store.chunk_papers() if paper_id not in papers]


def repair(engine: Engine, wait: bool = True) -> list[str]:
    """Fixes what can be fixed from what is stored, under the writer lock; returns what it did."""
    done: list[str] = []
    with engine.library.writing(wait, None):
        engine.store.counts()  # a damaged store raises its clear error here: nothing to rebuild from
        orphans = orphan_chunks(engine)
        if orphans:
            engine.store.chunks.delete(ids=orphans)
            done.append(f"removed {len(orphans)} chunks without a paper record")
        path = engine.library.index_path
        old = peek_revision(path) or {}
        engine.library.forget_index()
        build_file(path, engine.store, int(old.get("revision", 0)) + 1)
        done.append(f"rebuilt the keyword index from the store ({engine.store.counts()[0]} papers)")
    engine.refresh()
    return done
