"""Related papers: the papers whose mean vectors lie closest to one paper's, with the terms
they share.

Neighbours come from the paper-level collection (one mean chunk vector per paper), so a long
abstract counts once, like a short one. Shared terms are the stemmed title and abstract words
both papers use, rarest in the library first (inverse document frequency), so "grokking"
comes before "model". Document frequencies over the whole library are cached in the home and
recomputed when the library's paper or chunk count changes.
"""

from __future__ import annotations

import json
import math
import os
import re
import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import Stemmer

from assistant.models import Paper
from assistant.stopwords import STOPWORDS_EN_PLUS as STOPWORDS  # NLTK's English list

WORD = re.compile(r"[a-z][a-z0-9]+|[0-9]+[a-z][a-z0-9]*")  # no bare numbers: "2023" is not a topic
SHARED_TERMS = 6
EXTRA_NEIGHBOURS = 5  # fetched beyond k, for the paper itself and records that vanish meanwhile
_stemmer = Stemmer.Stemmer("english")
_stemmer_lock = threading.Lock()  # PyStemmer objects are not thread-safe; the bot runs in threads


@dataclass(frozen=True)
class RelatedPaper:
    paper: Paper
    similarity: float  # cosine between the two papers' mean vectors
    shared_terms: tuple[str, ...]  # most distinctive first, as the first paper spells them


class PaperSource(Protocol):
    """What related needs of the store."""

    def counts(self) -> tuple[int, int]: ...
    def all_papers(self) -> Iterable[Paper]: ...
    def get_papers(self, ids: list[str]) -> dict[str, Paper]: ...
    def paper_vectors(self, ids: list[str]) -> dict[str, np.ndarray]: ...
    def nearest_papers(self, vector: np.ndarray, n: int) -> list[tuple[str, float]]: ...


@dataclass(frozen=True)
class Terms:
    """A paper's stemmed words, counted, and the word each stem was most often written as."""

    counts: Counter[str]
    spelling: dict[str, str]

    @classmethod
    def of(cls, paper: Paper) -> Terms:
        text = f"{paper.title}\n{paper.title}\n{paper.abstract}"  # a title word counts double
        words = [w for w in WORD.findall(text.lower()) if w not in STOPWORDS]
        with _stemmer_lock:
            stems = _stemmer.stemWords(words)
        counts = Counter(stems)
        written = Counter(zip(stems, words, strict=True))
        spelling: dict[str, str] = {}
        for (stem, word), _ in written.most_common():
            spelling.setdefault(stem, word)
        return cls(counts, spelling)


@dataclass(frozen=True)
class DocumentFrequencies:
    papers: int
    chunks: int
    df: dict[str, int]

    def idf(self, stem: str) -> float:
        return math.log(1 + self.papers / (1 + self.df.get(stem, 0)))

    @classmethod
    def count(cls, store: PaperSource) -> DocumentFrequencies:
        papers, chunks = store.counts()
        df: Counter[str] = Counter()
        for paper in store.all_papers():
            df.update(Terms.of(paper).counts.keys())
        return cls(papers, chunks, dict(df))


class DfCache:
    """Document frequencies on disk, valid while the library's counts stay the same."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._loaded: DocumentFrequencies | None = None
        self._lock = threading.Lock()

    def get(self, store: PaperSource) -> DocumentFrequencies:
        counts = store.counts()
        with self._lock:
            current = self._loaded or self._read()
            if current is None or (current.papers, current.chunks) != counts:
                current = DocumentFrequencies.count(store)
                self._write(current)
            self._loaded = current
            return current

    def _read(self) -> DocumentFrequencies | None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return DocumentFrequencies(int(data["papers"]), int(data["chunks"]), dict(data["df"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None  # missing or damaged: counted again

    def _write(self, frequencies: DocumentFrequencies) -> None:
        """Beside the old file, then swapped in, so a reader never sees half of it."""
        data = {"papers": frequencies.papers, "chunks": frequencies.chunks, "df": frequencies.df}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            partial = self.path.with_suffix(f".{os.getpid()}.tmp")
            partial.write_text(json.dumps(data), encoding="utf-8")
            os.replace(partial, self.path)
        except OSError:
            pass  # a read-only home still answers; it just counts again next time


def shared_terms(mine: Terms, theirs: Terms, frequencies: DocumentFrequencies, n: int = SHARED_TERMS) -> list[str]:
    """Stems both papers use, rarest in the library first; used more often breaks ties."""

    def weight(stem: str) -> float:  # the stem's share of the two papers' tf-idf cosine
        tf = (1 + math.log(mine.counts[stem])) * (1 + math.log(theirs.counts[stem]))
        return tf * frequencies.idf(stem) ** 2

    common = sorted(mine.counts.keys() & theirs.counts.keys(), key=lambda stem: (-weight(stem), stem))
    return [mine.spelling[stem] for stem in common[:n]]


def related_papers(store: PaperSource, cache: DfCache, paper: Paper, k: int) -> list[RelatedPaper]:
    """The k papers closest to `paper` (itself excluded), most similar first."""
    vector = store.paper_vectors([paper.id]).get(paper.id)
    if vector is None:
        return []
    hits = [(pid, sim) for pid, sim in store.nearest_papers(vector, k + EXTRA_NEIGHBOURS) if pid != paper.id]
    records = store.get_papers([pid for pid, _ in hits])
    frequencies = cache.get(store)
    mine = Terms.of(paper)
    found = [
        RelatedPaper(records[pid], sim, tuple(shared_terms(mine, Terms.of(records[pid]), frequencies)))
        for pid, sim in hits
        if pid in records
    ]
    return found[:k]
