"""Summary quality on topics whose relevant papers are known: does `summarize` include the
papers on the topic (recall) and only those (precision), and how many themes does it write?

A topics file holds one JSON object per line: {"topic": str, "relevant_titles": [str]}.
The relevant lists must be complete for the library evaluated, or precision means little.
"""

from __future__ import annotations

import statistics
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from assistant.answer_metrics import latency_figures
from assistant.sources.common import title_key
from assistant.summary import Summary


@dataclass(frozen=True)
class TopicResult:
    topic: str
    relevant: tuple[str, ...]
    included: tuple[str, ...]  # titles of the summary's references
    themes: tuple[str, ...]
    written: bool  # False: the summary said the library has nothing on the topic
    seconds: float
    engine: str

    def hits(self) -> set[str]:
        return {title_key(t) for t in self.included} & {title_key(t) for t in self.relevant}

    @property
    def precision(self) -> float | None:
        included = {title_key(t) for t in self.included}
        return len(self.hits()) / len(included) if included else None

    @property
    def recall(self) -> float:
        wanted = {title_key(t) for t in self.relevant}
        return len(self.hits()) / len(wanted) if wanted else float(not self.included)


@dataclass
class TopicReport:
    results: list[TopicResult] = field(default_factory=list)
    missing_from_library: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        precisions = [r.precision for r in self.results if r.precision is not None]
        return {
            "kind": "topics",
            "engines": dict(Counter(r.engine for r in self.results)),
            "topics": len(self.results),
            "inclusion_precision": _mean(precisions),
            "inclusion_recall": _mean([r.recall for r in self.results]),
            "papers_per_summary": _mean([len(r.included) for r in self.results]),
            "themes_per_summary": _mean([len(r.themes) for r in self.results if r.written]),
            "max_themes": max((len(r.themes) for r in self.results), default=0),
            "not_written": sum(not r.written for r in self.results),
            **latency_figures([r.seconds for r in self.results]),
            "missing_from_library": self.missing_from_library,
            "per_topic": [topic_dict(r) for r in self.results],
        }


def topic_dict(result: TopicResult) -> dict[str, object]:
    hits = result.hits()
    return {
        "topic": result.topic,
        "precision": None if result.precision is None else round(result.precision, 4),
        "recall": round(result.recall, 4),
        "themes": list(result.themes),
        "missed": [t for t in result.relevant if title_key(t) not in hits],
        "off_topic": [t for t in result.included if title_key(t) not in hits],
    }


def evaluate_topics(
    topics: Sequence[tuple[str, tuple[str, ...]]],
    summarize: Callable[[str], Summary],
    library_titles: set[str],
    progress: Callable[[int], None] = lambda _: None,
) -> TopicReport:
    """`library_titles` are title keys of every stored paper (see evaluation.evaluate)."""
    report = TopicReport()
    wanted = {t for _, titles in topics for t in titles}
    report.missing_from_library = sorted(t for t in wanted if title_key(t) not in library_titles)
    for topic, relevant in topics:
        started = time.perf_counter()
        summary = summarize(topic)
        seconds = time.perf_counter() - started
        included = tuple(c.paper.title for c in summary.references)
        themes = tuple(t.name for t in summary.themes)
        report.results.append(TopicResult(topic, relevant, included, themes, summary.enough, seconds, summary.engine))
        progress(1)
    return report


def _mean(values: Sequence[float]) -> float | None:
    return round(statistics.fmean(values), 4) if values else None
