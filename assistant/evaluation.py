"""Retrieval and answer quality as numbers anyone can rerun.

Retrieval: recall@5/@10, MRR, nDCG@10 of `search`. Answers (what `ask` prints): whether
they cite a relevant paper, citation precision, coverage of multi-paper questions,
unsupported and uncited sentences, refusals, latency (assistant/answer_metrics.py).

A questions file holds one JSON object per line: {"question": str, "relevant_titles": [str]}.
An empty list means the library holds no answer, so `ask` must refuse. Titles match after
the same normalisation ingest uses to merge papers (case, punctuation, spacing).
"""

from __future__ import annotations

import json
import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from assistant.answer_metrics import AnswerFacts, answer_figures, facts_of
from assistant.errors import PaperbotError
from assistant.models import Answer
from assistant.sources.common import read_text, title_key

DEPTH = 10


@dataclass(frozen=True)
class EvalQuestion:
    question: str
    relevant_titles: tuple[str, ...]


@dataclass(frozen=True)
class QuestionResult:
    question: str
    relevant: tuple[str, ...]
    ranked: tuple[str, ...]  # retrieved titles, best first, DEPTH of them at most
    answer: AnswerFacts

    @property
    def refused(self) -> bool:
        return self.answer.refused

    @property
    def answerable(self) -> bool:
        return bool(self.relevant)

    @property
    def refusal_correct(self) -> bool:
        return self.refused != self.answerable

    def missed(self, depth: int = DEPTH) -> list[str]:
        found = {title_key(t) for t in self.ranked[:depth]}
        return [t for t in self.relevant if title_key(t) not in found]


@dataclass
class EvalReport:
    mode: str
    results: list[QuestionResult] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    missing_from_library: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        answerable = [r for r in self.results if r.answerable]

        def mean(metric: Callable[[QuestionResult], float]) -> float:
            return round(statistics.fmean(metric(r) for r in answerable), 4) if answerable else 0.0

        return {
            "mode": self.mode,
            "questions": len(self.results),
            "answerable": len(answerable),
            "recall@5": mean(lambda r: recall_at(r.ranked, r.relevant, 5)),
            "recall@10": mean(lambda r: recall_at(r.ranked, r.relevant, 10)),
            "mrr": mean(lambda r: reciprocal_rank(r.ranked, r.relevant)),
            "ndcg@10": mean(lambda r: ndcg_at(r.ranked, r.relevant, 10)),
            "multi_paper_recall@10": _mean_or_none(
                [recall_at(r.ranked, r.relevant, 10) for r in answerable if len(set(map(title_key, r.relevant))) > 1]
            ),
            "refusal_accuracy": round(sum(r.refusal_correct for r in self.results) / max(len(self.results), 1), 4),
            "search_latency_median_ms": round(statistics.median(self.latencies) * 1000, 1) if self.latencies else None,
            "answers": answer_figures([(r.question, r.relevant, r.answer) for r in self.results]),
            "missing_from_library": self.missing_from_library,
            "misses": [miss_dict(r) for r in self.results if r.missed() or not r.refusal_correct],
        }


def _mean_or_none(values: list[float]) -> float | None:
    return round(statistics.fmean(values), 4) if values else None


def miss_dict(result: QuestionResult) -> dict[str, object]:
    """A question whose ranking missed a relevant paper or whose refusal was wrong."""
    return {
        "question": result.question,
        "missed": result.missed(),
        "refused": result.refused,
        "should_refuse": not result.answerable,
        "top": list(result.ranked[:3]),
        "cited": list(result.answer.cited),
    }


# ---- metrics on one ranking (titles, best first) -------------------------------


def _hits(ranked: Sequence[str], relevant: Sequence[str], k: int) -> list[bool]:
    wanted = {title_key(t) for t in relevant}
    seen: set[str] = set()
    hits = []
    for title in ranked[:k]:
        key = title_key(title)
        hits.append(key in wanted and key not in seen)  # a title counts once
        seen.add(key)
    return hits


def recall_at(ranked: Sequence[str], relevant: Sequence[str], k: int) -> float:
    if not relevant:
        return 0.0
    return sum(_hits(ranked, relevant, k)) / len({title_key(t) for t in relevant})


def reciprocal_rank(ranked: Sequence[str], relevant: Sequence[str]) -> float:
    for rank, hit in enumerate(_hits(ranked, relevant, len(ranked)), start=1):
        if hit:
            return 1.0 / rank
    return 0.0


def ndcg_at(ranked: Sequence[str], relevant: Sequence[str], k: int) -> float:
    """Binary relevance; the ideal ranking puts every relevant title first."""
    gains = sum(1.0 / math.log2(rank + 1) for rank, hit in enumerate(_hits(ranked, relevant, k), start=1) if hit)
    ideal = sum(1.0 / math.log2(rank + 1) for rank in range(1, min(k, len({title_key(t) for t in relevant})) + 1))
    return gains / ideal if ideal else 0.0


# ---- files ---------------------------------------------------------------------


def load_questions(path: Path) -> list[EvalQuestion]:
    kind, rows = load_eval_file(path)
    if kind != "question":
        raise PaperbotError(f'{path}: a questions file needs "question" on every line, not "{kind}"')
    return [EvalQuestion(text, titles) for text, titles in rows]


def load_eval_file(path: Path) -> tuple[str, list[tuple[str, tuple[str, ...]]]]:
    """("question" or "topic", rows): the kind is the key the first line uses; every line
    must use the same one."""
    rows: list[tuple[str, tuple[str, ...]]] = []
    kind = ""
    for number, line in enumerate(read_text(path).splitlines(), start=1):
        if line.strip():
            kind = kind or _kind_of(line, f"{path}:{number}")
            rows.append(_parse_line(line, kind, f"{path}:{number}"))
    if not rows:
        raise PaperbotError(f"{path}: no questions in the file")
    return kind, rows


def _json_object(line: str, where: str) -> dict[str, object]:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise PaperbotError(f"{where}: not JSON ({exc.msg})") from None
    if not isinstance(row, dict):
        raise PaperbotError(f'{where}: needs a JSON object with a "question" or "topic" string')
    return row


def _kind_of(line: str, where: str) -> str:
    row = _json_object(line, where)
    return "topic" if "topic" in row and "question" not in row else "question"


def _parse_line(line: str, kind: str, where: str) -> tuple[str, tuple[str, ...]]:
    row = _json_object(line, where)
    text = row.get(kind)
    titles = row.get("relevant_titles", [])
    if not isinstance(text, str) or not text.strip():
        raise PaperbotError(f'{where}: needs a "{kind}" string')
    if not isinstance(titles, list) or not all(isinstance(t, str) for t in titles):
        raise PaperbotError(f'{where}: "relevant_titles" must be a list of strings')
    return text, tuple(titles)


# ---- running -------------------------------------------------------------------

Search = Callable[[str], list[str]]  # question -> titles, best first
Ask = Callable[[str], Answer]


def evaluate(
    questions: Sequence[EvalQuestion],
    search: Search,
    ask: Ask,
    library_titles: set[str],
    mode: str,
    progress: Callable[[int], None] = lambda _: None,
) -> EvalReport:
    """`library_titles` are title keys of every stored paper, to tell a ranking miss from a
    paper the library never had."""
    report = EvalReport(mode)
    wanted = {t for q in questions for t in q.relevant_titles}
    report.missing_from_library = sorted(t for t in wanted if title_key(t) not in library_titles)
    for question in questions:
        started = time.perf_counter()
        ranked = search(question.question)
        report.latencies.append(time.perf_counter() - started)
        started = time.perf_counter()
        answer = ask(question.question)
        facts = facts_of(answer, time.perf_counter() - started)
        report.results.append(QuestionResult(question.question, question.relevant_titles, tuple(ranked), facts))
        progress(1)
    return report
