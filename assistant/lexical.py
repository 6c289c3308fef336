"""The lexical side of retrieval: BM25 (bm25s) over chunk texts, and over titles.

The index is derived data, kept in step with the Chroma collections after every ingest or
delete, next to the Chroma files:

    <home>/lexical/<collection>/manifest.json   the current main part and delta, built from what
    <home>/lexical/<collection>/gen-<n>/        main part: chunks/ and titles/ (bm25s files + filter fields)
    <home>/lexical/<collection>/delta-<n>/      papers changed since: their BM25 postings, and
                                                the papers whose main rows no longer count

A full build of 100k papers takes about a minute, so small changes go to the delta: the
changed papers' rows are re-read from Chroma and scored with the main part's statistics
(document frequencies, document count, average length), so scores from both parts compare,
and their old rows in the main part are masked. When the delta outgrows DELTA_SHARE of the
main part, everything is rebuilt into a new main part.

Files are written beside the old ones and the manifest is swapped atomically, so a crash
mid-build leaves the previous index readable. Before the store is written the manifest is
marked stale; an index that is stale, missing, or built from other counts than the store
now holds is rebuilt when opened.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import shutil
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
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


# bm25s's defaults (the Lucene variant), which the delta's scores must match.
K1, B = 1.5, 0.75
# The delta is merged into a new main part when it holds more rows than this share of it.
DELTA_SHARE = 0.1


@dataclass(frozen=True)
class CorpusStats:
    """What BM25 needs of a corpus to score documents outside it on the same scale."""

    docs: int
    avgdl: float
    df: dict[str, int]

    @classmethod
    def of(cls, corpus: list[list[str]]) -> CorpusStats:
        df = Counter(term for doc in corpus for term in set(doc))
        return cls(len(corpus), sum(map(len, corpus)) / max(len(corpus), 1), dict(df))

    def arrays(self) -> dict[str, np.ndarray]:
        return {
            "stat_terms": np.asarray(list(self.df), dtype=str),
            "stat_df": np.asarray(list(self.df.values()), dtype=np.int64),
            "stat_docs_avgdl": np.asarray([self.docs, self.avgdl], dtype=np.float64),
        }

    @classmethod
    def from_arrays(cls, data: dict[str, np.ndarray]) -> CorpusStats | None:
        if "stat_terms" not in data:  # an index written before deltas existed
            return None
        docs, avgdl = data["stat_docs_avgdl"]
        df = dict(zip(map(str, data["stat_terms"]), map(int, data["stat_df"]), strict=True))
        return cls(int(docs), float(avgdl), df)


class Rows:
    """Documents that each belong to a paper, with the filter fields as arrays."""

    def __init__(self, keys: np.ndarray, paper_ids: np.ndarray, fields: dict[str, np.ndarray]) -> None:
        self.keys = keys
        self.paper_ids = paper_ids
        self.dates = np.asarray(fields["dates"])
        self.flag_names = [str(name) for name in fields["flag_names"]]
        self.flags = np.asarray(fields["flags"], dtype=bool)

    def __len__(self) -> int:
        return len(self.keys)

    def arrays(self) -> dict[str, np.ndarray]:
        """What `save` writes, and `Rows(keys, paper_ids, fields)` reads back."""
        names = np.asarray(self.flag_names, dtype=str)
        return {
            "keys": self.keys,
            "paper_ids": self.paper_ids,
            "dates": self.dates,
            "flag_names": names,
            "flags": self.flags,
        }

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

    def best(self, scores: np.ndarray, n: int, filters: Filters, alive: np.ndarray | None = None) -> list[LexicalHit]:
        """The n best rows with a positive score that pass the filters (and are alive)."""
        for mask in (self.allowed(filters), alive):
            if mask is not None:
                scores = np.where(mask, scores, 0.0)
        n = min(n, int(np.count_nonzero(scores > 0)))
        if n == 0:
            return []
        top = np.argpartition(-scores, n - 1)[:n]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [LexicalHit(str(self.keys[i]), str(self.paper_ids[i]), float(scores[i])) for i in top]


def read_rows(rows: Iterable[IndexRow]) -> tuple[Rows, list[list[str]]]:
    keys, paper_ids, corpus, metas = [], [], [], []
    for row in rows:
        keys.append(row.key)
        paper_ids.append(row.paper_id)
        corpus.append(terms(row.text))
        metas.append(row.fields)
    return Rows(np.asarray(keys, dtype=str), np.asarray(paper_ids, dtype=str), field_arrays(metas)), corpus


class Bm25Field:
    """The main part of one index: bm25s over its documents, plus the corpus statistics a
    delta is scored with."""

    def __init__(self, bm25: bm25s.BM25 | None, rows: Rows, stats: CorpusStats | None) -> None:
        self.bm25 = bm25
        self.rows = rows
        self.stats = stats

    @classmethod
    def build(cls, rows: Iterable[IndexRow]) -> Bm25Field:
        table, corpus = read_rows(rows)
        bm25 = None
        if any(corpus):  # bm25s fails on a corpus without a single term (CJK or stop-word titles)
            bm25 = bm25s.BM25(k1=K1, b=B)
            bm25.index(corpus, show_progress=False)
        return cls(bm25, table, CorpusStats.of(corpus))

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True)
        if self.bm25 is not None:
            self.bm25.save(str(folder / "bm25"), show_progress=False)
        arrays = self.rows.arrays() | (self.stats.arrays() if self.stats else {})
        np.savez(folder / "fields.npz", **arrays)  # type: ignore[arg-type]

    @classmethod
    def load(cls, folder: Path) -> Bm25Field:
        bm25 = None
        if (folder / "bm25").is_dir():
            bm25 = bm25s.BM25.load(str(folder / "bm25"), show_progress=False)
        with np.load(folder / "fields.npz", allow_pickle=False) as data:
            fields = {name: data[name] for name in data.files}
        return cls(bm25, Rows(fields["keys"], fields["paper_ids"], fields), CorpusStats.from_arrays(fields))

    def __len__(self) -> int:
        return len(self.rows)

    def top(
        self, query_terms: list[str], n: int, filters: Filters, alive: np.ndarray | None = None
    ) -> list[LexicalHit]:
        known = [t for t in query_terms if self.bm25 is not None and t in self.bm25.vocab_dict]
        if not known or self.bm25 is None:
            return []
        scores = np.asarray(self.bm25.get_scores(known), dtype=np.float32)
        return self.rows.best(scores, n, filters, alive)


class DeltaField:
    """Rows of papers changed since the main part was built, as BM25 postings weighted with
    the main part's statistics, so a delta score compares with a main score."""

    def __init__(self, rows: Rows, postings: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
        self.rows = rows
        self.postings = postings  # term -> (row indexes, BM25 weights)

    @classmethod
    def build(cls, rows: Iterable[IndexRow], main: CorpusStats) -> DeltaField:
        table, corpus = read_rows(rows)
        docs = main.docs + len(corpus)
        own_df = Counter(term for doc in corpus for term in set(doc))
        lists: dict[str, tuple[list[int], list[float]]] = {}
        for row, doc in enumerate(corpus):
            norm = K1 * (1 - B + B * len(doc) / max(main.avgdl, 1e-9))
            for term, tf in Counter(doc).items():
                df = main.df.get(term, 0) + own_df[term]
                weight = math.log(1 + (docs - df + 0.5) / (df + 0.5)) * tf / (norm + tf)
                indexes, weights = lists.setdefault(term, ([], []))
                indexes.append(row)
                weights.append(weight)
        postings = {t: (np.asarray(i, dtype=np.int64), np.asarray(w, dtype=np.float32)) for t, (i, w) in lists.items()}
        return cls(table, postings)

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True)
        terms_ = list(self.postings)
        sizes = np.asarray([len(self.postings[t][0]) for t in terms_], dtype=np.int64)
        empty = not terms_
        arrays = self.rows.arrays() | {
            "post_terms": np.asarray(terms_, dtype=str),
            "post_sizes": sizes,
            "post_rows": np.zeros(0, np.int64) if empty else np.concatenate([self.postings[t][0] for t in terms_]),
            "post_weights": np.zeros(0, np.float32) if empty else np.concatenate([self.postings[t][1] for t in terms_]),
        }
        np.savez(folder / "delta.npz", **arrays)

    @classmethod
    def load(cls, folder: Path) -> DeltaField:
        with np.load(folder / "delta.npz", allow_pickle=False) as data:
            fields = {name: data[name] for name in data.files}
        bounds = np.concatenate([[0], np.cumsum(fields["post_sizes"])])
        postings = {
            str(term): (
                fields["post_rows"][bounds[i] : bounds[i + 1]],
                fields["post_weights"][bounds[i] : bounds[i + 1]],
            )
            for i, term in enumerate(fields["post_terms"])
        }
        return cls(Rows(fields["keys"], fields["paper_ids"], fields), postings)

    def __len__(self) -> int:
        return len(self.rows)

    def top(self, query_terms: list[str], n: int, filters: Filters) -> list[LexicalHit]:
        scores = np.zeros(len(self.rows), dtype=np.float32)
        for term in query_terms:  # a few terms; each adds its postings at once
            if term in self.postings:
                indexes, weights = self.postings[term]
                np.add.at(scores, indexes, weights)
        return self.rows.best(scores, n, filters)


class Segmented:
    """One searchable index: the main part with the rows of changed papers masked out, plus
    the delta holding those papers' current rows."""

    def __init__(self, main: Bm25Field, delta: DeltaField | None = None, dead: np.ndarray | None = None) -> None:
        self.main = main
        self.delta = delta
        self.dead = dead if dead is not None else np.zeros(0, dtype=str)  # paper ids masked in main
        self.alive = ~np.isin(main.rows.paper_ids, self.dead) if len(self.dead) else None

    def top(self, query_terms: list[str], n: int, filters: Filters) -> list[LexicalHit]:
        hits = self.main.top(query_terms, n, filters, self.alive)
        if self.delta is not None:
            hits = sorted([*hits, *self.delta.top(query_terms, n, filters)], key=lambda h: -h.score)[:n]
        return hits

    def live_keys(self) -> list[str]:
        """Every row that counts, main and delta."""
        main = self.main.rows.keys if self.alive is None else self.main.rows.keys[self.alive]
        return [*map(str, main), *(map(str, self.delta.rows.keys) if self.delta else [])]

    def __len__(self) -> int:
        main = len(self.main) if self.alive is None else int(self.alive.sum())
        return main + (len(self.delta) if self.delta else 0)


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
    def __init__(self, root: Path, chunks: Segmented, titles: Segmented, generation: str) -> None:
        self.root = root
        self.chunks = chunks
        self.titles = titles
        self.generation = generation

    @classmethod
    def open(cls, root: Path, store: ChromaStore) -> LexicalIndex:
        manifest = read_manifest(root)
        papers, chunks = store.counts()
        current, delta = manifest.get("generation"), manifest.get("delta")
        fresh = not manifest.get("stale") and manifest.get("papers") == papers and manifest.get("chunks") == chunks
        if current and fresh and (root / current).is_dir() and (not delta or (root / delta).is_dir()):
            return cls.load(root, current, delta)
        if current:
            log.info("lexical index out of step with the store; rebuilding")
        return cls.rebuild(root, store)

    @classmethod
    def load(cls, root: Path, generation: str, delta: str | None) -> LexicalIndex:
        main_chunks, main_titles = (
            Bm25Field.load(root / generation / "chunks"),
            Bm25Field.load(root / generation / "titles"),
        )
        if not delta:
            return cls(root, Segmented(main_chunks), Segmented(main_titles), generation)
        dead = np.load(root / delta / "dead.npy", allow_pickle=False)
        chunks = Segmented(main_chunks, DeltaField.load(root / delta / "chunks"), dead)
        titles = Segmented(main_titles, DeltaField.load(root / delta / "titles"), dead)
        return cls(root, chunks, titles, generation)

    @classmethod
    def rebuild(cls, root: Path, store: ChromaStore) -> LexicalIndex:
        chunks = Bm25Field.build(store.chunk_rows())
        titles = Bm25Field.build(store.title_rows())
        generation = f"gen-{time.time_ns()}"
        with written(root / generation):
            chunks.save(root / generation / "chunks")
            titles.save(root / generation / "titles")
        write_manifest(root, {"generation": generation, "papers": len(titles), "chunks": len(chunks)})
        cls.remove_others(root, {generation})
        return cls(root, Segmented(chunks), Segmented(titles), generation)

    def updated(self, store: ChromaStore, changed: set[str], removed: set[str]) -> LexicalIndex:
        """This index (in step with the store before a change) brought in step after it:
        `changed` papers were written, `removed` ones deleted. Small changes go to the delta."""
        main_stats, title_stats = self.chunks.main.stats, self.titles.main.stats
        if main_stats is None or title_stats is None:
            return self.rebuild(self.root, store)
        old_delta = set(map(str, self.chunks.delta.rows.paper_ids)) if self.chunks.delta else set()
        papers = sorted((old_delta | changed) - removed)
        rows = list(store.chunk_rows(papers))
        if len(rows) > DELTA_SHARE * max(len(self.chunks.main), 1):
            return self.rebuild(self.root, store)
        dead = np.union1d(self.chunks.dead, np.asarray(sorted(changed | removed), dtype=str))
        chunk_delta = DeltaField.build(rows, main_stats)
        title_delta = DeltaField.build(store.title_rows(papers), title_stats)
        name = f"delta-{time.time_ns()}"
        with written(self.root / name):
            chunk_delta.save(self.root / name / "chunks")
            title_delta.save(self.root / name / "titles")
            np.save(self.root / name / "dead.npy", dead)
        chunks = Segmented(self.chunks.main, chunk_delta, dead)
        titles = Segmented(self.titles.main, title_delta, dead)
        write_manifest(
            self.root, {"generation": self.generation, "delta": name, "papers": len(titles), "chunks": len(chunks)}
        )
        self.remove_others(self.root, {self.generation, name})
        return LexicalIndex(self.root, chunks, titles, self.generation)

    @staticmethod
    def remove_others(root: Path, keep: set[str]) -> None:
        for old in [*root.glob("gen-*"), *root.glob("delta-*")]:
            if old.name not in keep:
                shutil.rmtree(old, ignore_errors=True)

    @staticmethod
    def mark_stale(root: Path) -> None:
        """Called before the store changes: if the run dies, the next open rebuilds."""
        manifest = read_manifest(root)
        if manifest:
            write_manifest(root, manifest | {"stale": True})


@contextmanager
def written(folder: Path) -> Iterator[None]:
    """A new index folder, removed again (with one clear error) if the disk refuses it; the
    manifest still points at the old index, marked stale."""
    try:
        yield
    except OSError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        raise PaperbotError(f"cannot write the keyword index in {folder.parent}: {exc.strerror or exc}") from None


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
