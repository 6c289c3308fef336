"""The lexical side of retrieval: BM25 (bm25s) over chunk texts, and over titles.

The index is derived data. It is rebuilt from the Chroma collections after every ingest or
delete, so it cannot drift from them, and it lives next to the Chroma files:

    <home>/lexical/<collection>/manifest.json   which generation is current, built from what
    <home>/lexical/<collection>/gen-<n>/        chunks/ and titles/: bm25s files + filter fields

A new generation is written beside the old one and the manifest is swapped atomically, so a
crash mid-build leaves the previous index readable. Before the store is written the manifest
is marked stale; an index that is stale, missing, or built from other counts than the store
now holds is rebuilt when opened.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bm25s
import numpy as np
import Stemmer
from bm25s.stopwords import STOPWORDS_EN

from assistant.errors import PaperbotError
from assistant.models import Filters, date_int, source_flag
from assistant.store import ChromaStore, IndexRow

log = logging.getLogger(__name__)
WORD = re.compile(r"[a-z0-9]+")
STOPWORDS = frozenset(STOPWORDS_EN)
_stemmer = Stemmer.Stemmer("english")
_stemmer_lock = threading.Lock()  # PyStemmer objects are not thread-safe; the bot searches from threads


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


class Bm25Field:
    """One BM25 index whose documents each belong to a paper, with the filter fields as arrays."""

    def __init__(
        self, bm25: bm25s.BM25 | None, keys: np.ndarray, paper_ids: np.ndarray, fields: dict[str, np.ndarray]
    ) -> None:
        self.bm25 = bm25
        self.keys = keys
        self.paper_ids = paper_ids
        self.dates = np.asarray(fields["dates"])
        self.flag_names = [str(name) for name in fields["flag_names"]]
        self.flags = np.asarray(fields["flags"], dtype=bool)

    @classmethod
    def build(cls, rows: Iterable[IndexRow]) -> Bm25Field:
        keys, paper_ids, corpus, metas = [], [], [], []
        for row in rows:
            keys.append(row.key)
            paper_ids.append(row.paper_id)
            corpus.append(terms(row.text))
            metas.append(row.fields)
        bm25 = None
        if corpus:
            bm25 = bm25s.BM25()
            bm25.index(corpus, show_progress=False)
        return cls(bm25, np.asarray(keys, dtype=str), np.asarray(paper_ids, dtype=str), field_arrays(metas))

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True)
        if self.bm25 is not None:
            self.bm25.save(str(folder / "bm25"), show_progress=False)
        np.savez(
            folder / "fields.npz",
            keys=self.keys,
            paper_ids=self.paper_ids,
            dates=self.dates,
            flag_names=np.asarray(self.flag_names, dtype=str),
            flags=self.flags,
        )

    @classmethod
    def load(cls, folder: Path) -> Bm25Field:
        bm25 = None
        if (folder / "bm25").is_dir():
            bm25 = bm25s.BM25.load(str(folder / "bm25"), show_progress=False)
        with np.load(folder / "fields.npz", allow_pickle=False) as data:
            fields = {name: data[name] for name in data.files}
        return cls(bm25, fields["keys"], fields["paper_ids"], fields)

    def __len__(self) -> int:
        return len(self.keys)

    def allowed(self, filters: Filters) -> np.ndarray | None:
        """The same restriction `store.where_clause` gives Chroma; an unknown date never passes a date filter."""
        if not filters:
            return None
        keep = np.ones(len(self.keys), dtype=bool)
        if filters.since:
            keep &= self.dates >= date_int(filters.since)
        if filters.until:
            keep &= (self.dates > 0) & (self.dates <= date_int(filters.until))
        if filters.source:
            flag = source_flag(filters.source)
            column = self.flag_names.index(flag) if flag in self.flag_names else None
            keep &= self.flags[:, column] if column is not None else False
        return keep

    def top(self, query_terms: list[str], n: int, filters: Filters) -> list[LexicalHit]:
        known = [t for t in query_terms if self.bm25 is not None and t in self.bm25.vocab_dict]
        if not known or self.bm25 is None:
            return []
        scores = np.asarray(self.bm25.get_scores(known), dtype=np.float32)
        mask = self.allowed(filters)
        if mask is not None:
            scores = np.where(mask, scores, 0.0)
        n = min(n, int(np.count_nonzero(scores > 0)))
        if n == 0:
            return []
        best = np.argpartition(-scores, n - 1)[:n]
        best = best[np.argsort(-scores[best], kind="stable")]
        return [LexicalHit(str(self.keys[i]), str(self.paper_ids[i]), float(scores[i])) for i in best]


def field_arrays(metas: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    """Dates as ints (0 = unknown) and one boolean column per source flag."""
    names = sorted({key for meta in metas for key in meta if key.startswith("src_")})
    flags = np.zeros((len(metas), len(names)), dtype=bool)
    for row, meta in enumerate(metas):
        for column, name in enumerate(names):
            flags[row, column] = bool(meta.get(name, False))
    dates = np.asarray([int(meta.get("date", 0)) for meta in metas], dtype=np.int64)
    return {"dates": dates, "flag_names": np.asarray(names, dtype=str), "flags": flags}


class LexicalIndex:
    def __init__(self, root: Path, chunks: Bm25Field, titles: Bm25Field) -> None:
        self.root = root
        self.chunks = chunks
        self.titles = titles

    @classmethod
    def open(cls, root: Path, store: ChromaStore) -> LexicalIndex:
        manifest = read_manifest(root)
        papers, chunks = store.counts()
        current = manifest.get("generation")
        fresh = not manifest.get("stale") and manifest.get("papers") == papers and manifest.get("chunks") == chunks
        if current and fresh and (root / current).is_dir():
            return cls(root, Bm25Field.load(root / current / "chunks"), Bm25Field.load(root / current / "titles"))
        if current:
            log.info("lexical index out of step with the store; rebuilding")
        return cls.rebuild(root, store)

    @classmethod
    def rebuild(cls, root: Path, store: ChromaStore) -> LexicalIndex:
        chunks = Bm25Field.build(store.chunk_rows())
        titles = Bm25Field.build(store.title_rows())
        generation = f"gen-{time.time_ns()}"
        try:
            chunks.save(root / generation / "chunks")
            titles.save(root / generation / "titles")
        except OSError as exc:  # the manifest still points at the old index, marked stale
            shutil.rmtree(root / generation, ignore_errors=True)
            raise PaperbotError(f"cannot write the keyword index in {root}: {exc.strerror or exc}") from None
        write_manifest(root, {"generation": generation, "papers": len(titles), "chunks": len(chunks)})
        for old in root.glob("gen-*"):
            if old.name != generation:
                shutil.rmtree(old, ignore_errors=True)
        return cls(root, chunks, titles)

    @staticmethod
    def mark_stale(root: Path) -> None:
        """Called before the store changes: if the run dies, the next open rebuilds."""
        manifest = read_manifest(root)
        if manifest:
            write_manifest(root, manifest | {"stale": True})


def read_manifest(root: Path) -> dict[str, Any]:
    try:
        data = json.loads((root / "manifest.json").read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_manifest(root: Path, data: dict[str, Any]) -> None:
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / "manifest.json.tmp"
    tmp.write_text(json.dumps(data))
    os.replace(tmp, root / "manifest.json")
