"""The extractive answerer: quotes the sentences of the top papers that best answer the
question, each followed by [n] for its paper. Nothing is written that no abstract says."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from assistant.embeddings import Embedder
from assistant.lexical import terms
from assistant.models import Answer, Citation, ScoredPaper
from assistant.prompting import render
from assistant.settings import AnswerSettings
from assistant.text import split_sentences

ENGINE = "extractive"
MAX_PER_PAPER = 2


@dataclass(frozen=True)
class Candidate:
    paper_rank: int
    position: int
    text: str
    score: float


def not_found(question: str, engine: str = ENGINE, sources: tuple[ScoredPaper, ...] = ()) -> Answer:
    return Answer(question, render("not_found", question=question), True, engine, (), sources)


class ExtractiveAnswerer:
    def __init__(self, embedder: Embedder, settings: AnswerSettings, min_score: float) -> None:
        self.embedder = embedder
        self.settings = settings
        self.min_score = min_score

    def answer(self, question: str, papers: list[ScoredPaper]) -> Answer:
        relevant = [p for p in papers if p.similarity >= self.min_score]
        if not relevant:
            return not_found(question, sources=tuple(papers))
        chosen = self._choose(self._candidates(question, relevant))
        return self._compose(question, chosen, relevant, tuple(papers))

    def _candidates(self, question: str, papers: list[ScoredPaper]) -> list[Candidate]:
        asked = set(terms(question))
        pieces = [
            (rank, pos, text)
            for rank, paper in enumerate(papers)
            for pos, text in shortlist(split_sentences(paper.paper.abstract), asked, self.settings.shortlist)
        ]
        vectors = self.embedder.embed([question] + [text for _, _, text in pieces])
        similarity = vectors[1:] @ vectors[0]
        # A sentence from a better-matching paper wins a near tie.
        paper_weight = np.array([papers[rank].similarity for rank, _, _ in pieces])
        scores = 0.8 * similarity + 0.2 * paper_weight
        return [
            Candidate(rank, pos, text, float(score)) for (rank, pos, text), score in zip(pieces, scores, strict=True)
        ]

    def _choose(self, candidates: list[Candidate]) -> list[Candidate]:
        ranked = sorted(candidates, key=lambda c: c.score, reverse=True)
        chosen: list[Candidate] = []
        for candidate in ranked:
            per_paper = sum(c.paper_rank == candidate.paper_rank for c in chosen)
            strong = candidate.score >= self.settings.min_sentence_score or not chosen
            if strong and per_paper < MAX_PER_PAPER:
                chosen.append(candidate)
            if len(chosen) == self.settings.max_sentences:
                break
        # Read in source order: best paper first, each paper's sentences as written.
        return sorted(chosen, key=lambda c: (c.paper_rank, c.position))

    def _compose(
        self, question: str, chosen: list[Candidate], papers: list[ScoredPaper], retrieved: tuple[ScoredPaper, ...]
    ) -> Answer:
        numbers: dict[int, int] = {}
        parts = []
        for candidate in chosen:
            n = numbers.setdefault(candidate.paper_rank, len(numbers) + 1)
            parts.append(f"{candidate.text} [{n}]")
        citations = tuple(Citation(n, papers[rank].paper) for rank, n in numbers.items())
        return Answer(question, " ".join(parts), False, ENGINE, citations, retrieved)


def shortlist(sentences: list[str], asked: set[str], size: int) -> list[tuple[int, str]]:
    """The `size` sentences sharing the most question terms (earlier ones win ties), with
    their positions; the first sentence always stays, as it usually states the contribution."""
    if size <= 0 or len(sentences) <= size:
        return list(enumerate(sentences))
    overlap = [len(asked.intersection(terms(text))) for text in sentences]
    ranked = sorted(range(1, len(sentences)), key=lambda i: (-overlap[i], i))
    keep = sorted([0, *ranked[: size - 1]])
    return [(i, sentences[i]) for i in keep]
