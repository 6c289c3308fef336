"""The engine: one object built from settings, used the same way by the CLI and the bot."""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from assistant.answering import ExtractiveAnswerer
from assistant.conversation import condense, follow_up
from assistant.embeddings import Embedder, build_embedder, embedder_name, start_embedder
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
    read_stored,
    require_papers,
    stream_papers,
)
from assistant.lexical import LexicalIndex
from assistant.library import Library
from assistant.merge import merge_papers
from assistant.models import Answer, Filters, Paper, ScoredPaper
from assistant.prompting import check_all, render
from assistant.related import DfCache, RelatedPaper, related_papers
from assistant.retrieval import Retriever, gate_score, is_topical
from assistant.settings import Settings, load_settings
from assistant.sources.common import clean_text
from assistant.store import ChromaStore, index_rows
from assistant.summary import (
    ExtractiveSummarizer,
    Gatherer,
    Summary,
    few_papers_notice,
    name_groups,
    not_enough,
)
from assistant.topic_eval import TopicReport, evaluate_topics

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
class Stats:
    papers: int
    chunks: int
    by_source: dict[str, int] = field(default_factory=dict)
    by_year: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {"papers": self.papers, "chunks": self.chunks, "by_source": self.by_source, "by_year": self.by_year}


class Engine:
    """Parts default from settings; pass `embedder` to use another one (tests do)."""

    def __init__(self, settings: Settings | None = None, *, embedder: Embedder | None = None) -> None:
        self.settings = settings or load_settings()
        self._embedder = embedder
        self._loading: Future[Embedder] | None = None
        self.library = Library(self.settings, self._embedder_name)
        check_all()

    def _embedder_name(self) -> str:
        """What the store checks on open; known without loading the model."""
        return self._embedder.name if self._embedder is not None else embedder_name(self.settings)

    def load_embedder_in_background(self) -> None:
        """Start loading the model now, on a worker thread, while the store opens: for a
        command that is about to embed a question."""
        if self._embedder is None and self._loading is None and "embedder" not in self.__dict__:
            self._loading = start_embedder(self.settings)

    @cached_property
    def embedder(self) -> Embedder:
        if self._embedder is not None:
            return self._embedder
        return self._loading.result() if self._loading is not None else build_embedder(self.settings)

    @property
    def store(self) -> ChromaStore:
        return self.library.store

    def lexical(self) -> LexicalIndex:
        """The keyword index, which also tells which papers are committed."""
        return self.library.index()

    def refresh(self) -> None:
        """Before each question: papers any process added or deleted since are seen."""
        if self.library.refresh():
            self.__dict__.pop("retriever", None)  # both hold the store that was replaced
            self.__dict__.pop("generator", None)

    @cached_property
    def retriever(self) -> Retriever:
        return Retriever(self.store, self.embedder, self.lexical, self.settings.retrieval)

    @cached_property
    def answerer(self) -> ExtractiveAnswerer:
        """Always there: the default, and the fallback when the LLM is unavailable."""
        return ExtractiveAnswerer(self.embedder, self.settings.answer, self.settings.retrieval.min_score)

    @cached_property
    def generator(self) -> GenerativeAnswerer | None:
        """The LLM answerer when PAPERBOT_LLM=openai or local; imported only then (openai is slow to import)."""
        if self.settings.llm.engine == "extractive":
            return None
        from assistant.generation import GenerativeAnswerer
        from assistant.llm import chat_client

        min_score = self.settings.retrieval.min_score
        return GenerativeAnswerer(chat_client(self.settings), self.store.chunk_texts, min_score, self.embedder)

    # ---- library -----------------------------------------------------------

    def ingest(
        self,
        paths: Sequence[Path],
        fmt: str | None = None,
        progress: Progress = _ignore,
        *,
        total: Progress = _ignore,
        wait: bool = True,
        notify: Callable[[str], None] | None = None,
    ) -> tuple[IngestReport, float]:
        """Returns the report and the seconds it took; `total` hears how many papers will be
        written so far (it grows as big files are read). Holds the writer lock: `wait=False`
        fails at once when another process writes, else `notify` hears that this one waits."""
        started = time.perf_counter()
        report = IngestReport()
        files = open_sources(paths, fmt, report)
        self.ingest_papers(stream_papers(files, report), report, progress, total=total, wait=wait, notify=notify)
        require_papers(paths, report)
        return report, time.perf_counter() - started

    def ingest_papers(
        self,
        papers: Iterable[Paper],
        report: IngestReport,
        progress: Progress = _ignore,
        *,
        total: Progress = _ignore,
        wait: bool = True,
        notify: Callable[[str], None] | None = None,
    ) -> IngestReport:
        """Paper records (from files or feeds) into the library, STREAM_BATCH at a time."""
        written = [0]
        with self.library.writing(wait, notify):
            for batch in batched(papers, STREAM_BATCH):
                self._ingest_batch(merge_papers(batch), report, written, progress, total)
        return report

    def _ingest_batch(
        self, papers: list[Paper], report: IngestReport, written: list[int], progress: Progress, total: Progress
    ) -> None:
        """Read what is stored once, plan, write, then commit the batch to the keyword index."""
        stored = read_stored(papers, self.store)
        plan = plan_ingest(papers, stored, self.store.chunking, report)
        if not (plan.writes or plan.retired_ids):
            return
        written[0] += len(plan.writes)
        total(written[0])
        index = self.lexical()
        revision = index.revision
        index.begin_write()
        writes = apply_plan(plan, stored, self.store, self.embedder, self.settings.chunking, progress)
        chunk_rows, title_rows = index_rows(writes)
        changed = {item.paper.id for item in writes} | set(plan.retired_ids)
        index.commit_changes(chunk_rows, title_rows, changed, self.store.new_revision_token())
        self.library.committed(revision)

    def delete(
        self, paper_ids: Sequence[str], *, wait: bool = True, notify: Callable[[str], None] | None = None
    ) -> list[Paper]:
        """Removes papers from every index; an unknown id fails before anything is removed."""
        with self.library.writing(wait, notify):
            found = self.store.get_papers(list(paper_ids))
            missing = [pid for pid in paper_ids if pid not in found]
            if missing:
                raise PaperbotError(f"no paper with id {missing[0]!r} in the library; `paperbot search` shows ids")
            index = self.lexical()
            revision = index.revision
            index.begin_write()
            self.store.delete(list(found))
            index.commit_changes([], [], set(found), self.store.new_revision_token())
            self.library.committed(revision)
        return list(found.values())

    def needs_sample(self) -> bool:
        """True when the settings ask for the bundled sample and the library is healthy and
        has never held a paper: a damaged store raises a clear error before this answers,
        and an empty store whose keyword index remembers papers is a lost one, not a new one."""
        if not self.settings.auto_sample or not self.store.is_empty():
            return False
        if self.library.remembers_papers():
            raise PaperbotError(
                f"the library in {self.settings.home} is empty, but its keyword index remembers papers: "
                "the store may have been lost or damaged. Restore it from a backup, or run `paperbot repair` "
                "and ingest your files again"
            )
        return True

    def ingest_sample(self, progress: Progress = _ignore, *, total: Progress = _ignore) -> IngestReport:
        return self.ingest([sample_library()], progress=progress, total=total)[0]

    def paper(self, identifier: str) -> Paper:
        """By paper id, arXiv id or DOI."""
        from assistant.lookup import find_paper

        self.refresh()
        found = find_paper(self.store, identifier)
        if found is None:
            raise PaperbotError(f"no paper with id {identifier!r} in the library; `paperbot search` shows ids")
        return found

    def export(self, fmt: str, query: str | None = None, ids: Sequence[str] = (), k: int = 20) -> tuple[str, int]:
        """The text of an export (bibtex, ris, csljson) and how many papers it holds: the
        papers named by `ids`, else those a search for `query` finds, else the whole library."""
        from assistant.exports import export

        if ids:
            papers = [self.paper(identifier) for identifier in ids]
        elif query:
            papers = [result.paper for result in self.search(query, k)]
        else:
            papers = sorted(self.store.all_papers(), key=lambda paper: paper.id)
        unique = list({paper.id: paper for paper in papers}.values())
        return export(unique, fmt), len(unique)

    def undated_count(self) -> int:
        """How many papers a --since/--until filter leaves out for having no date."""
        return self.store.counts()[0] - self.store.count_dated()

    @cached_property
    def term_frequencies(self) -> DfCache:
        return DfCache(self.settings.home / "related" / f"{self.settings.collection_prefix()}-df.json")

    def related(self, paper_id: str, k: int = 5) -> tuple[Paper, list[RelatedPaper]]:
        """The paper, and the k papers closest to it with the terms they share."""
        paper = self.paper(paper_id)
        return paper, related_papers(self.store, self.term_frequencies, paper, k)

    def stats(self) -> Stats:
        self.refresh()
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
        self.refresh()
        return self.retriever.search(query, k or self.settings.retrieval.k, filters, mode)

    def ask(
        self,
        question: str,
        filters: Filters | None = None,
        mode: str | None = None,
        *,
        history: Sequence[Answer] = (),
        on_token: Callable[[str], None] | None = None,
        k: int | None = None,
    ) -> Answer:
        """`history` (earlier chat turns) turns a follow-up into a standalone question before
        retrieval; `on_token` receives a generated answer as it streams; `k` papers are read."""
        question = checked_question(question)
        self.refresh()
        deadline = self.generator.llm.deadline() if self.generator else None  # one for the whole answer
        standalone = self.standalone(question, history, deadline)
        papers = self.retriever.search(standalone, k or self._depth(standalone), filters, mode)
        if history and self.generator is not None and gate_score(papers) < self.settings.retrieval.min_score:
            standalone, papers = self._offline_rewrite(question, history[-1], (standalone, papers), filters, mode, k)
        shown = history[-1].text if history else ""  # a follow-up quotes what the reader has not seen
        answer = self._answer(standalone, papers, on_token, deadline, shown)
        return replace(answer, question=question, standalone=standalone if standalone != question else None)

    def _offline_rewrite(
        self,
        question: str,
        previous: Answer,
        found: tuple[str, list[ScoredPaper]],
        filters: Filters | None,
        mode: str | None,
        k: int | None,
    ) -> tuple[str, list[ScoredPaper]]:
        """A small model's rewrite of a follow-up can lose the subject ("The following are the
        papers that..."): when it finds nothing past the gate, the offline rewrite (the
        follow-up searched with the question before) gets its chance."""
        offline = follow_up(question, previous)
        if offline == found[0]:
            return found
        papers = self.retriever.search(offline, k or self._depth(offline), filters, mode)
        return (offline, papers) if gate_score(papers) >= self.settings.retrieval.min_score else found

    def _depth(self, question: str) -> int:
        """Papers retrieved for an answer: more for a 'which papers...' question answered as a list."""
        k = self.settings.retrieval.k
        return max(k, self.settings.answer.list_papers) if self.generator is None and is_topical(question) else k

    def _answer(
        self,
        question: str,
        papers: list[ScoredPaper],
        on_token: Callable[[str], None] | None,
        deadline: float | None,
        shown: str = "",
    ) -> Answer:
        if self.generator is None:
            return self.answerer.answer(question, papers, shown)
        try:
            return self.generator.answer(question, papers, on_token, deadline)
        except LLMUnavailable as exc:
            fallback = self.answerer.answer(question, papers, shown)
            return replace(fallback, engine=FALLBACK, notice=render("llm_unavailable", reason=str(exc)))

    def standalone(self, question: str, history: Sequence[Answer], deadline: float | None = None) -> str:
        turns = list(history)[-self.settings.llm.history_turns :] if self.settings.llm.history_turns else []
        if not turns:
            return question
        if self.generator is not None:
            with contextlib.suppress(LLMUnavailable):  # the answer step reports the outage
                return condense(self.generator.llm, question, turns, deadline)
        return follow_up(question, turns[-1])

    def summarize(self, topic: str, papers: int = 12, filters: Filters | None = None) -> Summary:
        """A cited literature summary of `topic`, or `enough=False` when the library has too little on it."""
        topic = checked_question(topic)
        self.refresh()
        gather = Gatherer(self.retriever, self.store, self.settings.retrieval.min_score)
        found = gather.papers(topic, papers, filters)
        engine = self.generator.llm.name if self.generator else "extractive"
        if not found:
            return not_enough(topic, engine)
        groups = gather.groups(found)
        summary = ExtractiveSummarizer(self.embedder).write(topic, groups, name_groups(groups, topic))
        summary = replace(summary, notice=few_papers_notice(len(found)))
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
        """Rankings from `search` at depth 10, answers from `ask`: exactly what users get."""
        mode = mode or self.settings.retrieval.mode
        self.search("warm up the model and the indexes", k=DEPTH, mode=mode)  # latency is measured warm
        return evaluate(
            questions,
            lambda q: [r.paper.title for r in self.search(q, DEPTH, mode=mode)],
            lambda q: self.ask(q, mode=mode),
            self._library_titles(),
            mode,
            progress,
        )

    def evaluate_topics(
        self, topics: Sequence[tuple[str, tuple[str, ...]]], progress: Progress = _ignore
    ) -> TopicReport:
        """Each topic through `summarize`, as `paperbot summarize` would write it."""
        self.search("warm up the model and the indexes", k=DEPTH)
        return evaluate_topics(topics, self.summarize, self._library_titles(), progress)

    def _library_titles(self) -> set[str]:
        return {entry.title_key for entry in self.store.stored_papers().values()}


def checked_question(text: str) -> str:
    """One line, without control characters: a question is echoed back ("Not found: ...")."""
    question = clean_text(text)
    if not question:
        raise PaperbotError("the question is empty")
    if len(question) > MAX_QUESTION_CHARS:
        raise PaperbotError(f"the question is {len(question)} characters long; the limit is {MAX_QUESTION_CHARS}")
    return question
