"""The engine: one object built from settings, used the same way by the CLI and the bot."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path

from assistant.answering import ExtractiveAnswerer
from assistant.embeddings import Embedder, build_embedder
from assistant.errors import PaperbotError
from assistant.ingest import IngestReport, Progress, apply_plan, plan_ingest, read_library
from assistant.models import Answer, Filters, Paper, ScoredPaper
from assistant.prompting import check_all
from assistant.retrieval import Retriever
from assistant.settings import Settings
from assistant.store import ChromaStore

MAX_QUESTION_CHARS = 2000


def sample_library() -> Path:
    """The Daily Papers pages shipped inside the package."""
    return Path(str(resources.files("assistant").joinpath("sample")))


def _ignore(_: int) -> None:
    return None


@dataclass
class Stats:
    papers: int
    chunks: int
    by_source: dict[str, int] = field(default_factory=dict)
    by_year: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {"papers": self.papers, "chunks": self.chunks, "by_source": self.by_source, "by_year": self.by_year}


class Engine:
    """Parts default from settings; pass `embedder` or `store` to use others (tests do)."""

    def __init__(self, settings: Settings | None = None, *, embedder: Embedder | None = None) -> None:
        self.settings = settings or Settings()
        self._embedder = embedder
        check_all()

    @cached_property
    def embedder(self) -> Embedder:
        return self._embedder or build_embedder(self.settings)

    @cached_property
    def store(self) -> ChromaStore:
        return ChromaStore(self.settings, self.embedder.name)

    @cached_property
    def retriever(self) -> Retriever:
        return Retriever(self.store, self.embedder, self.settings.retrieval.candidates)

    @cached_property
    def answerer(self) -> ExtractiveAnswerer:
        return ExtractiveAnswerer(self.embedder, self.settings.answer, self.settings.retrieval.min_score)

    # ---- library -----------------------------------------------------------

    def ingest(
        self, paths: Sequence[Path], fmt: str | None = None, progress: Progress = _ignore, *, total: Progress = _ignore
    ) -> tuple[IngestReport, float]:
        """Returns the report and the seconds it took; `total` hears how many papers will be written."""
        started = time.perf_counter()
        papers, report = read_library(paths, fmt)
        plan = plan_ingest(papers, self.store, report)
        total(len(plan.writes))
        apply_plan(plan, self.store, self.embedder, self.settings.chunking, progress)
        return plan.report, time.perf_counter() - started

    def needs_sample(self) -> bool:
        """True when the library is empty and the settings ask for the bundled sample then."""
        return self.settings.auto_sample and self.store.counts()[0] == 0

    def ingest_sample(self, progress: Progress = _ignore, *, total: Progress = _ignore) -> IngestReport:
        return self.ingest([sample_library()], progress=progress, total=total)[0]

    def paper(self, paper_id: str) -> Paper:
        found = self.store.get_papers([paper_id]).get(paper_id)
        if found is None:
            raise PaperbotError(f"no paper with id {paper_id!r} in the library")
        return found

    def stats(self) -> Stats:
        papers, chunks = self.store.counts()
        by_source: Counter[str] = Counter()
        by_year: Counter[str] = Counter()
        for paper in self.store.all_papers():
            by_source.update(paper.sources)
            by_year[str(paper.date.year) if paper.date else "unknown"] += 1
        return Stats(papers, chunks, dict(by_source.most_common()), dict(sorted(by_year.items())))

    # ---- questions ---------------------------------------------------------

    def search(self, query: str, k: int | None = None, filters: Filters | None = None) -> list[ScoredPaper]:
        query = checked_question(query)
        return self.retriever.search(query, k or self.settings.retrieval.k, filters)

    def ask(self, question: str, filters: Filters | None = None) -> Answer:
        question = checked_question(question)
        papers = self.retriever.search(question, self.settings.retrieval.k, filters)
        return self.answerer.answer(question, papers)


def checked_question(text: str) -> str:
    question = " ".join(text.split())
    if not question:
        raise PaperbotError("the question is empty")
    if len(question) > MAX_QUESTION_CHARS:
        raise PaperbotError(f"the question is {len(question)} characters long; the limit is {MAX_QUESTION_CHARS}")
    return question
