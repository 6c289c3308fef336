"""Dense retrieval over chunks, aggregated to papers: one paper appears once."""

from __future__ import annotations

from collections import defaultdict

from assistant.embeddings import Embedder
from assistant.models import Filters, ScoredChunk, ScoredPaper
from assistant.store import ChromaStore

# A paper whose second chunk also matches is a little more likely to be about the question.
SUPPORT_WEIGHT = 0.1


def group_by_paper(chunks: list[ScoredChunk]) -> dict[str, list[ScoredChunk]]:
    grouped: dict[str, list[ScoredChunk]] = defaultdict(list)
    for chunk in sorted(chunks, key=lambda c: c.score, reverse=True):
        grouped[chunk.paper_id].append(chunk)
    return grouped


def paper_score(chunks: list[ScoredChunk]) -> float:
    """The best chunk's score, nudged up by the runner-up's (chunks sorted best first)."""
    runner_up = chunks[1].score if len(chunks) > 1 else 0.0
    return chunks[0].score + SUPPORT_WEIGHT * max(runner_up, 0.0) * (1.0 - chunks[0].score)


class Retriever:
    def __init__(self, store: ChromaStore, embedder: Embedder, candidates: int) -> None:
        self.store = store
        self.embedder = embedder
        self.candidates = candidates

    def search(self, query: str, k: int, filters: Filters | None = None) -> list[ScoredPaper]:
        vector = self.embedder.embed([query])[0]
        chunks = self.store.query(vector, max(self.candidates, k * 4), filters or Filters())
        scored = [(paper_score(group), pid, group) for pid, group in group_by_paper(chunks).items()]
        ranked = sorted(scored, key=lambda item: item[0], reverse=True)[:k]
        papers = self.store.get_papers([pid for _, pid, _ in ranked])
        return [ScoredPaper(papers[pid], score, tuple(group)) for score, pid, group in ranked if pid in papers]
