"""Hybrid retrieval: dense chunks (Chroma) and BM25 chunks fused by reciprocal rank fusion,
aggregated to papers (one paper appears once), lifted by a title match, diversified for
topical questions. `mode` keeps dense-only and BM25-only available for comparison."""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from assistant.embeddings import Embedder
from assistant.lexical import LexicalIndex, terms
from assistant.models import Filters, ScoredPaper
from assistant.settings import RetrievalSettings
from assistant.store import ChromaStore

# A paper's other matching chunks count for this fraction of their fused score.
SUPPORT_WEIGHT = 0.1
# Papers considered for the diversified list, as a multiple of k.
POOL_FACTOR = 3
# "Which papers study X?" -> "X": the boilerplate would otherwise pull both rankers toward
# any abstract that says "we study" or "this paper".
TOPIC_PREFIX = re.compile(
    r"^\s*(?:(?:which|what|list|find|show(?:\s+me)?|are\s+there)\s+)?(?:any\s+|the\s+|some\s+)?"
    r"(?:papers?|studies|works?|research|articles|literature)\b"
    r"(?:\s+(?:exists?|is\s+there|are\s+there))?(?:\s+(?:that|which))?"
    r"(?:\s+(?:stud(?:y|ies)|propose|examine|explore|investigate|address|discuss|use|look\s+at"
    r"|on|about|in|of|into|regarding|for))?\s*",
    re.IGNORECASE,
)
# "Summarize work on X", "Give an overview of X": the request, not the subject.
REQUEST = re.compile(
    r"^\s*(?:please\s+)?(?:summari[sz]e|review|describe|outline|explain|tell\s+me\s+about"
    r"|give\s+(?:me\s+)?an?\s+(?:overview|summary|review)\s+of)\s+(?:(?:the|recent|existing|current)\s+)*",
    re.IGNORECASE,
)
# "work that applies X", "papers that develop X": verbs that frame a subject (TOPIC_PREFIX has "study", "propose"...).
_FRAMING = r"(?:appl(?:y|ies)|develop|present|introduce|report|evaluate|compare|analy[sz]e|tackle|focus\s+on)"
FRAMING_VERB = re.compile(rf"^(?:(?:or|and)\s+)?{_FRAMING}(?:\s+(?:or|and)\s+{_FRAMING})*\s+", re.IGNORECASE)
# "How do papers keep X ...": the papers are not the subject.
ASKED_OF_PAPERS = re.compile(
    r"^\s*(?:how|what|why|in\s+what\s+ways?)\s+(?:do|does|did|can|could|have|has)\s+(?:the\s+)?"
    r"(?:papers|studies|works|researchers|authors|people)\s+",
    re.IGNORECASE,
)
# "What explanations have been proposed for X" -> "explanations for X".
PROPOSED = re.compile(
    r"^\s*(?:what|which)\s+((?:\w+\s+){1,2}?)(?:have|has)\s+been\s+"
    r"(?:proposed|suggested|offered|put\s+forward|developed|introduced|studied|used)\s+",
    re.IGNORECASE,
)
# "..., and what it is used for": a request about the subject, whose words match any abstract.
TRAILING_REQUEST = re.compile(
    r",?\s+and\s+(?:what|how|why|where|when|which)\s+(?:it|they|this|these|its|their)\b[^,;]*$", re.IGNORECASE
)
TOPICAL = re.compile(
    r"\b(papers|studies|articles|literature|approaches|methods|works)\b|\bwork (exists|on|about|that)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Ranked:
    """One ranker's output: chunk ids best first, and the paper each belongs to."""

    chunk_ids: list[str]
    paper_of: dict[str, str]
    similarity: dict[str, float] = field(default_factory=dict)  # paper -> best chunk cosine (dense only)


def rrf(rankings: Mapping[str, Sequence[str]], weights: Mapping[str, float], constant: float) -> dict[str, float]:
    """Reciprocal rank fusion: each list gives its items weight / (constant + rank), rank from 1."""
    fused: dict[str, float] = defaultdict(float)
    for name, items in rankings.items():
        for rank, item in enumerate(items, start=1):
            fused[item] += weights.get(name, 1.0) / (constant + rank)
    return dict(fused)


def aggregate(chunk_scores: Mapping[str, float], paper_of: Mapping[str, str]) -> dict[str, tuple[float, list[str]]]:
    """Paper score: its best chunk, plus SUPPORT_WEIGHT times the rest; chunk ids best first."""
    grouped: dict[str, list[str]] = defaultdict(list)
    for chunk_id in sorted(chunk_scores, key=lambda c: chunk_scores[c], reverse=True):
        grouped[paper_of[chunk_id]].append(chunk_id)
    return {
        pid: (chunk_scores[ids[0]] + SUPPORT_WEIGHT * sum(chunk_scores[c] for c in ids[1:]), ids)
        for pid, ids in grouped.items()
    }


def diversify(
    order: list[str], scores: Mapping[str, float], vectors: Mapping[str, np.ndarray], k: int, penalty: float
) -> list[str]:
    """Maximal marginal relevance: each pick trades relevance (scaled to the best) against
    its similarity to papers already picked, so near-duplicates yield to distinct papers."""
    if penalty <= 0 or not order:
        return order[:k]
    top = max(scores[pid] for pid in order)
    picked: list[str] = []
    rest = list(order)
    while rest and len(picked) < k:
        best = max(rest, key=lambda pid: scores[pid] / top - penalty * _redundancy(pid, picked, vectors))
        picked.append(best)
        rest.remove(best)
    return picked


def _redundancy(pid: str, picked: list[str], vectors: Mapping[str, np.ndarray]) -> float:
    if pid not in vectors:
        return 0.0
    return max((float(vectors[pid] @ vectors[other]) for other in picked if other in vectors), default=0.0)


def is_topical(question: str) -> bool:
    """'Which papers study X?' wants the distinct papers on X, not one best answer."""
    return bool(TOPICAL.search(question))


def gate_score(papers: Sequence[ScoredPaper]) -> float:
    """How close the library comes to the question: the best paper similarity retrieved."""
    return max((p.similarity for p in papers), default=-1.0)


def past_gate(papers: Sequence[ScoredPaper], min_score: float) -> list[ScoredPaper]:
    """The papers close enough to the question to be cited (the relevance gate, per paper)."""
    return [p for p in papers if p.similarity >= min_score]


def topic_of(question: str) -> str:
    """The subject of a topical question or a summary request, without the wording that
    asks for it ("Summarize work that applies", "How do papers", "Which papers study"),
    or the question itself when little would be left."""
    topic = REQUEST.sub("", question, count=1)
    topic = ASKED_OF_PAPERS.sub("", topic, count=1)
    topic = PROPOSED.sub(r"\1", topic, count=1)
    topic = TOPIC_PREFIX.sub("", topic, count=1)
    topic = FRAMING_VERB.sub("", topic, count=1).strip().removesuffix(".")
    asked = TRAILING_REQUEST.search(topic.rstrip("?!"))
    topic = topic[: asked.start()] if asked else topic
    return topic if len(terms(topic)) >= 1 else question


class Retriever:
    def __init__(
        self,
        store: ChromaStore,
        embedder: Embedder,
        lexical: Callable[[], LexicalIndex],
        settings: RetrievalSettings,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self._lexical = lexical
        self.settings = settings

    def search(self, query: str, k: int, filters: Filters | None = None, mode: str | None = None) -> list[ScoredPaper]:
        mode = mode or self.settings.mode
        filters = filters or Filters()
        topical = is_topical(query)
        if topical:
            query = topic_of(query)
        vector = self.embedder.embed([query])[0]
        depth = max(self.settings.candidates, k * 4)
        rankings: dict[str, Ranked] = {}
        if mode in ("hybrid", "dense"):
            rankings["dense"] = self._dense(vector, depth, filters)
        if mode in ("hybrid", "bm25"):
            rankings["bm25"] = self._bm25(query, depth, filters)
        scored = self._fuse(rankings)
        if mode != "dense" and self.settings.title_weight > 0:
            self._lift_titles(scored, query, depth, filters)
        order = sorted(scored, key=lambda pid: scored[pid][0], reverse=True)[: k * POOL_FACTOR]
        if topical:
            vectors = self.store.paper_vectors(order)
            order = diversify(order, {pid: scored[pid][0] for pid in order}, vectors, k, self.settings.diversity)
        known = rankings["dense"].similarity if "dense" in rankings else {}
        return self._papers(order[:k], scored, vector, known)

    def term_weights(self, text: str) -> dict[str, float]:
        """Each distinct term of `text` weighted by its rarity in the library (inverse document
        frequency): "distillation" weighs more than "language" or "model"."""
        index = self._lexical()
        papers = len(index.titles)
        unique = dict.fromkeys(terms(text))
        return {term: math.log((papers + 1) / (index.chunks.papers_with(term) + 0.5)) for term in unique}

    def _dense(self, vector: np.ndarray, depth: int, filters: Filters) -> Ranked:
        chunks = self.store.query(vector, depth, filters)
        best: dict[str, float] = {}
        for chunk in chunks:  # best first, so a paper's first chunk is its closest one anywhere
            best.setdefault(chunk.paper_id, chunk.score)
        return Ranked([c.chunk_id for c in chunks], {c.chunk_id: c.paper_id for c in chunks}, best)

    def _bm25(self, query: str, depth: int, filters: Filters) -> Ranked:
        hits = self._lexical().chunks.top(terms(query), depth, filters)
        return Ranked([h.key for h in hits], {h.key: h.paper_id for h in hits})

    def _fuse(self, rankings: dict[str, Ranked]) -> dict[str, tuple[float, list[str]]]:
        fused = rrf({name: r.chunk_ids for name, r in rankings.items()}, {}, self.settings.fusion_k)
        paper_of = {cid: pid for r in rankings.values() for cid, pid in r.paper_of.items()}
        return aggregate(fused, paper_of)

    def _lift_titles(
        self, scored: dict[str, tuple[float, list[str]]], query: str, depth: int, filters: Filters
    ) -> None:
        """The title ranking joins the fusion at paper level, weighted by `title_weight`."""
        titles = self._lexical().titles.top(terms(query), depth, filters)
        weight = {"title": self.settings.title_weight}
        for pid, extra in rrf({"title": [h.paper_id for h in titles]}, weight, self.settings.fusion_k).items():
            score, chunk_ids = scored.get(pid, (0.0, []))
            scored[pid] = (score + extra, chunk_ids)

    def _papers(
        self,
        order: list[str],
        scored: Mapping[str, tuple[float, list[str]]],
        vector: np.ndarray,
        known: Mapping[str, float],
    ) -> list[ScoredPaper]:
        records = self._lexical().papers(order)  # committed batches only: one being written is not shown yet
        similarity = dict(known) | self._similarities([pid for pid in order if pid not in known], vector)
        return [
            ScoredPaper(records[pid], scored[pid][0], similarity.get(pid, 0.0), tuple(scored[pid][1]))
            for pid in order
            if pid in records
        ]

    def _similarities(self, paper_ids: list[str], vector: np.ndarray) -> dict[str, float]:
        """Best chunk cosine for papers the dense side did not return (BM25 or title finds)."""
        vectors = self.store.chunk_vectors_by_paper(paper_ids)
        return {pid: float(np.max(rows @ vector)) for pid, rows in vectors.items()}
