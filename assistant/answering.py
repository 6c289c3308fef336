"""The extractive answerer: quotes what the relevant papers do or find, each sentence
followed by [n] for its paper. Nothing is written that no abstract says.

Two shapes of answer:
- a question about something specific is answered from the best-matching paper first, with
  another paper cited only when it matches almost as well (the per-paper bar);
- a "which papers / what work" question is answered with a list, one line per on-topic
  paper: its title, the sentence that best states its contribution, [n].

Sentences are scored by similarity to the question plus their rhetorical role
(assistant/sentence_roles.py): own contributions and results up, background down.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from assistant.embeddings import Embedder
from assistant.lexical import terms
from assistant.models import Answer, Citation, ScoredPaper
from assistant.prompting import render
from assistant.retrieval import is_topical, past_gate, topic_of
from assistant.sentence_roles import is_contribution, role_bonus
from assistant.settings import AnswerSettings
from assistant.text import split_sentences

ENGINE = "extractive"
MAX_PER_PAPER = 2
MAX_FOCUS_PAPERS = 3  # the best paper and at most two that match almost as well
PAPER_WEIGHT = 0.2  # a sentence from a better-matching paper wins a near tie


@dataclass(frozen=True)
class Candidate:
    paper_rank: int
    position: int
    text: str
    score: float


def not_found(question: str, engine: str = ENGINE, sources: tuple[ScoredPaper, ...] = ()) -> Answer:
    return Answer(question, render("not_found", question=question), True, engine, (), sources)


def focus_papers(papers: list[ScoredPaper], settings: AnswerSettings) -> list[ScoredPaper]:
    """The best paper (fused rank), then those nearly as good on both rank score and similarity."""
    best = papers[0]
    close = [
        p
        for p in papers[1:]
        if p.score >= settings.paper_bar * best.score and p.similarity >= best.similarity - settings.similarity_margin
    ]
    return [best, *close][:MAX_FOCUS_PAPERS]


def on_topic_papers(topic: str, papers: list[ScoredPaper], settings: AnswerSettings) -> list[ScoredPaper]:
    """For a list answer: every paper whose fused score reaches `list_bar` of the best one's,
    or that states every word of the topic while reaching `list_floor` of it (a paper on the
    topic that the rankers placed lower); either way its similarity to the topic must be within
    `list_margin` of the closest paper's. The relevance gate has already said the library
    covers the topic."""
    best = max(p.score for p in papers)
    closest = max(p.similarity for p in papers)
    wanted = set(terms(topic))

    def listed(p: ScoredPaper) -> bool:
        if p.similarity < closest - settings.list_margin:
            return False
        states_topic = wanted <= set(terms(f"{p.paper.title} {p.paper.abstract}"))
        return p.score >= (settings.list_floor if states_topic else settings.list_bar) * best

    return [p for p in papers if listed(p)]


class ExtractiveAnswerer:
    def __init__(self, embedder: Embedder, settings: AnswerSettings, min_score: float) -> None:
        self.embedder = embedder
        self.settings = settings
        self.min_score = min_score

    def answer(self, question: str, papers: list[ScoredPaper], shown: str = "") -> Answer:
        """`shown`: text the reader already has (the previous chat turn); a sentence in it is
        quoted again only if nothing else qualifies."""
        relevant = past_gate(papers, self.min_score)
        if not relevant:
            return not_found(question, sources=tuple(papers))
        if is_topical(question):
            listed = on_topic_papers(topic_of(question), papers, self.settings)
            return self._listed(question, listed, tuple(papers), shown)
        focus = focus_papers(relevant, self.settings)
        chosen = self._choose(unseen(self._candidates(question, focus), shown))
        return self._compose(question, chosen, focus, tuple(papers))

    def _candidates(self, question: str, papers: list[ScoredPaper]) -> list[Candidate]:
        asked = set(terms(question))
        pieces = [
            (rank, pos, text)
            for rank, paper in enumerate(papers)
            for pos, text in shortlist(split_sentences(paper.paper.abstract), asked, self.settings.shortlist)
        ]
        if not pieces:
            return []
        vectors = self.embedder.embed([question] + [text for _, _, text in pieces])
        similarity = vectors[1:] @ vectors[0]
        paper_weight = np.array([papers[rank].similarity for rank, _, _ in pieces])
        scores = (1 - PAPER_WEIGHT) * similarity + PAPER_WEIGHT * paper_weight
        return [
            Candidate(rank, pos, text, float(score) + role_bonus(text))
            for (rank, pos, text), score in zip(pieces, scores, strict=True)
        ]

    def _choose(self, candidates: list[Candidate]) -> list[Candidate]:
        ranked = sorted(candidates, key=lambda c: c.score, reverse=True)
        # The best paper is cited first: its best sentence leads whatever scores higher elsewhere.
        lead = [c for c in ranked if c.paper_rank == 0][:1]
        chosen: list[Candidate] = list(lead)
        for candidate in ranked:
            if len(chosen) >= self.settings.max_sentences:
                break
            per_paper = sum(c.paper_rank == candidate.paper_rank for c in chosen)
            if (
                candidate not in chosen
                and candidate.score >= self.settings.min_sentence_score
                and per_paper < MAX_PER_PAPER
            ):
                chosen.append(candidate)
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

    def _listed(
        self, question: str, papers: list[ScoredPaper], retrieved: tuple[ScoredPaper, ...], shown: str
    ) -> Answer:
        """One line per paper: its title and the sentence that best states its contribution on the topic."""
        best = self._best_sentences(topic_of(question), papers, shown)
        lines = [f"- {p.paper.title}: {best[rank]} [{rank + 1}]" for rank, p in enumerate(papers)]
        citations = tuple(Citation(n, p.paper) for n, p in enumerate(papers, start=1))
        intro = f"{len(papers)} papers in the library address this:" if len(papers) > 1 else "One paper addresses this:"
        return Answer(question, "\n".join([intro, *lines]), False, ENGINE, citations, retrieved)

    def _best_sentences(self, topic: str, papers: list[ScoredPaper], shown: str) -> dict[int, str]:
        best: dict[int, Candidate] = {}
        for candidate in unseen(self._candidates(topic, papers), shown):
            if candidate.paper_rank not in best or candidate.score > best[candidate.paper_rank].score:
                best[candidate.paper_rank] = candidate
        return {rank: best[rank].text if rank in best else p.paper.abstract for rank, p in enumerate(papers)}


def unseen(candidates: list[Candidate], shown: str) -> list[Candidate]:
    """The candidates the reader has not seen yet; all of them when every one was shown."""
    fresh = [c for c in candidates if c.text.rstrip(".!? ") not in shown] if shown else candidates
    return fresh or candidates


def shortlist(sentences: list[str], asked: set[str], size: int) -> list[tuple[int, str]]:
    """The `size` sentences sharing the most question terms, a stated contribution counting
    as one more shared term (earlier ones win ties), with their positions."""
    if size <= 0 or len(sentences) <= size:
        return list(enumerate(sentences))
    value = [len(asked.intersection(terms(text))) + is_contribution(text) for text in sentences]
    keep = sorted(sorted(range(len(sentences)), key=lambda i: (-value[i], i))[:size])
    return [(i, sentences[i]) for i in keep]
