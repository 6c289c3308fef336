"""The engine: one object built from settings, used the same way by the CLI and the bot."""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from assistant.answering import ExtractiveAnswerer
from assistant.conversation import condense, follow_up
from assistant.embeddings import Embedder, build_embedder
from assistant.errors import LLMUnavailable, PaperbotError
from assistant.evaluation import DEPTH, EvalQuestion, EvalReport, evaluate
from assistant.ingest import (
    STREAM_BATCH,
    IngestReport,
    Progress,
    apply_plan,
    batched,
    open_sources,
    plan_ingest,
    stream_papers,
)
from assistant.lexical import LexicalIndex
from assistant.merge import merge_papers
from assistant.models import Answer, Filters, Paper, ScoredPaper
from assistant.prompting import check_all, render
from assistant.related import DfCache, RelatedPaper, related_papers
from assistant.retrieval import Retriever
from assistant.settings import Settings, load_settings
from assistant.sources.common import title_key
from assistant.store import ChromaStore
from assistant.summary import MIN_PAPERS, ExtractiveSummarizer, Gatherer, Summary, name_groups, not_enough

MAX_QUESTION_CHARS = 2000
FALLBACK = "extractive (fallback)"

if TYPE_CHECKING:
    from assistant.generation import GenerativeAnswerer


def sample_library() -> Path:
    """The Daily Papers pages shipped inside the package."""
    return Path(str(resources.files("assistant").joinpath("sample")))


def _ignore(_: int) -> None:
    return None


@dataclass
class Changes:
    """Papers a run wrote and removed: what the keyword index must catch up with."""

    written: set[str] = field(default_factory=set)
    removed: set[str] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.written or self.removed)


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
        self.settings = settings or load_settings()
        self._embedder = embedder
        self._lexical: LexicalIndex | None = None
        check_all()

    @cached_property
    def embedder(self) -> Embedder:
        return self._embedder or build_embedder(self.settings)

    @cached_property
    def store(self) -> ChromaStore:
        return ChromaStore(self.settings, self.embedder.name)

    @property
    def lexical_root(self) -> Path:
        return self.settings.home / "lexical" / self.settings.collection_prefix()

    def lexical(self) -> LexicalIndex:
        """Opened on first use, so dense-only work never reads it."""
        if self._lexical is None:
            self._lexical = LexicalIndex.open(self.lexical_root, self.store)
        return self._lexical

    @cached_property
    def retriever(self) -> Retriever:
        return Retriever(self.store, self.embedder, self.lexical, self.settings.retrieval)

    @cached_property
    def answerer(self) -> ExtractiveAnswerer:
        """Always there: the default, and the fallback when the LLM is unavailable."""
        return ExtractiveAnswerer(self.embedder, self.settings.answer, self.settings.retrieval.min_score)

    @cached_property
    def generator(self) -> GenerativeAnswerer | None:
        """The LLM answerer when PAPERBOT_LLM=openai; imported only then (openai is slow to import)."""
        if self.settings.llm.engine == "extractive":
            return None
        from assistant.generation import GenerativeAnswerer
        from assistant.llm import ChatClient

        return GenerativeAnswerer(ChatClient(self.settings), self.store.chunk_texts, self.settings.retrieval.min_score)

    # ---- library -----------------------------------------------------------

    def ingest(
        self, paths: Sequence[Path], fmt: str | None = None, progress: Progress = _ignore, *, total: Progress = _ignore
    ) -> tuple[IngestReport, float]:
        """Returns the report and the seconds it took; `total` hears how many papers will be
        written so far (it grows as big files are read)."""
        started = time.perf_counter()
        report = IngestReport()
        files = open_sources(paths, fmt, report)
        changes = Changes()
        try:
            for batch in batched(stream_papers(files, report), STREAM_BATCH):
                self._ingest_batch(merge_papers(batch), report, changes, progress, total)
        except BaseException:
            if changes:  # what was written is searchable; the keyword index catches up on open
                self._lexical = None
            raise
        if changes:
            self._after_change(changes)
        return report, time.perf_counter() - started

    def _ingest_batch(
        self, papers: list[Paper], report: IngestReport, changes: Changes, progress: Progress, total: Progress
    ) -> None:
        stored = self.store.stored_matching([p.id for p in papers], [title_key(p.title) for p in papers])
        plan = plan_ingest(papers, self.store, report, stored)
        if not (plan.writes or plan.retired_ids):
            return
        if not changes:
            self._before_change()
        changes.written.update(paper.id for paper in plan.writes)
        changes.removed.update(plan.retired_ids)
        total(len(changes.written))
        apply_plan(plan, self.store, self.embedder, self.settings.chunking, progress)

    def delete(self, paper_ids: Sequence[str]) -> list[Paper]:
        """Removes papers from every index; an unknown id fails before anything is removed."""
        found = self.store.get_papers(list(paper_ids))
        missing = [pid for pid in paper_ids if pid not in found]
        if missing:
            raise PaperbotError(f"no paper with id {missing[0]!r} in the library")
        self._before_change()
        try:
            self.store.delete(list(found))
        except BaseException:
            self._lexical = None  # stale on disk: the next open rebuilds
            raise
        self._after_change(Changes(removed=set(found)))
        return list(found.values())

    def _before_change(self) -> None:
        """The keyword index is opened (so it matches the store as it is) and then marked
        stale, so a run that dies before `_after_change` rebuilds it on the next open."""
        self.lexical()
        LexicalIndex.mark_stale(self.lexical_root)

    def _after_change(self, changes: Changes) -> None:
        self._lexical = self.lexical().updated(self.store, changes.written, changes.removed)

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

    @cached_property
    def term_frequencies(self) -> DfCache:
        return DfCache(self.settings.home / "related" / f"{self.settings.collection_prefix()}-df.json")

    def related(self, paper_id: str, k: int = 5) -> tuple[Paper, list[RelatedPaper]]:
        """The paper, and the k papers closest to it with the terms they share."""
        paper = self.paper(paper_id)
        return paper, related_papers(self.store, self.term_frequencies, paper, k)

    def stats(self) -> Stats:
        papers, chunks = self.store.counts()
        by_source: Counter[str] = Counter()
        by_year: Counter[str] = Counter()
        for paper in self.store.all_papers():
            by_source.update(paper.sources)
            by_year[str(paper.date.year) if paper.date else "unknown"] += 1
        return Stats(papers, chunks, dict(by_source.most_common()), dict(sorted(by_year.items())))

    # ---- questions ---------------------------------------------------------

    def search(
        self, query: str, k: int | None = None, filters: Filters | None = None, mode: str | None = None
    ) -> list[ScoredPaper]:
        query = checked_question(query)
        return self.retriever.search(query, k or self.settings.retrieval.k, filters, mode)

    def ask(
        self,
        question: str,
        filters: Filters | None = None,
        mode: str | None = None,
        *,
        history: Sequence[Answer] = (),
        on_token: Callable[[str], None] | None = None,
    ) -> Answer:
        """`history` (earlier chat turns) turns a follow-up into a standalone question before
        retrieval; `on_token` receives a generated answer as it streams."""
        question = checked_question(question)
        standalone = self.standalone(question, history)
        papers = self.retriever.search(standalone, self.settings.retrieval.k, filters, mode)
        answer = self._answer(standalone, papers, on_token)
        return replace(answer, question=question, standalone=standalone if standalone != question else None)

    def _answer(self, question: str, papers: list[ScoredPaper], on_token: Callable[[str], None] | None) -> Answer:
        if self.generator is None:
            return self.answerer.answer(question, papers)
        try:
            return self.generator.answer(question, papers, on_token)
        except LLMUnavailable as exc:
            fallback = self.answerer.answer(question, papers)
            return replace(fallback, engine=FALLBACK, notice=render("llm_unavailable", reason=str(exc)))

    def standalone(self, question: str, history: Sequence[Answer]) -> str:
        turns = list(history)[-self.settings.llm.history_turns :] if self.settings.llm.history_turns else []
        if not turns:
            return question
        if self.generator is not None:
            with contextlib.suppress(LLMUnavailable):  # the answer step reports the outage
                return condense(self.generator.llm, question, turns)
        return follow_up(question, turns[-1])

    def summarize(self, topic: str, papers: int = 12, filters: Filters | None = None) -> Summary:
        """A cited literature summary of `topic`, or `enough=False` when the library has too little on it."""
        topic = checked_question(topic)
        gather = Gatherer(self.retriever, self.store, self.settings.retrieval.min_score)
        found = gather.papers(topic, papers, filters)
        engine = self.generator.llm.name if self.generator else "extractive"
        if len(found) < MIN_PAPERS:
            return not_enough(topic, engine)
        groups = gather.groups(found)
        summary = ExtractiveSummarizer(self.embedder).write(topic, groups, name_groups(groups, topic))
        if self.generator is None:
            return summary
        from assistant.summary_llm import written_by_llm

        try:
            return written_by_llm(self.generator.llm, summary)
        except LLMUnavailable as exc:
            return replace(summary, engine=FALLBACK, notice=render("llm_unavailable", reason=str(exc)))
        except ValueError as exc:  # nothing the model wrote could be cited
            return replace(summary, engine=FALLBACK, notice=f"The model's summary was not usable ({exc}).")

    def evaluate(
        self, questions: Sequence[EvalQuestion], mode: str | None = None, progress: Progress = _ignore
    ) -> EvalReport:
        """Rankings from `search` at depth 10, refusals from `ask`: exactly what users get."""
        mode = mode or self.settings.retrieval.mode
        self.search("warm up the model and the indexes", k=DEPTH, mode=mode)  # latency is measured warm
        library = {entry.title_key for entry in self.store.stored_papers().values()}
        return evaluate(
            questions,
            lambda q: [r.paper.title for r in self.search(q, DEPTH, mode=mode)],
            lambda q: self.ask(q, mode=mode).refused,
            library,
            mode,
            progress,
        )


def checked_question(text: str) -> str:
    question = " ".join(text.split())
    if not question:
        raise PaperbotError("the question is empty")
    if len(question) > MAX_QUESTION_CHARS:
        raise PaperbotError(f"the question is {len(question)} characters long; the limit is {MAX_QUESTION_CHARS}")
    return question
