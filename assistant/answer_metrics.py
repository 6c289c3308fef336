"""Answer-level figures: what a reader of `ask` gets, scored against known relevant papers.

Per answer we keep only facts (cited titles, sentence counts, refusal, seconds), so the
same figures come out for the extractive answerer and for any LLM. Titles match after
`title_key` normalisation, as in retrieval evaluation.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from assistant.models import Answer
from assistant.sources.common import title_key
from assistant.text import split_sentences

CITATION = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
LEADING_CITATIONS = re.compile(r"^(?:\[\d+(?:\s*,\s*\d+)*\]\s*)+")
LIST_MARKER = re.compile(r"^\s*(?:[-*+]|\d+\.)\s+")


@dataclass(frozen=True)
class AnswerFacts:
    refused: bool
    engine: str
    cited: tuple[str, ...] = ()  # titles of the papers the text cites, in citation order
    sentences: int = 0
    uncited: int = 0  # sentences carrying no [n] and not flagged unsupported
    unsupported: int = 0  # sentences the answerer itself flagged
    dangling: int = 0  # [n] in the text that no listed citation resolves: an invented source
    seconds: float = 0.0


def answer_sentences(text: str) -> list[str]:
    """Sentences of an answer, list items read like prose; Markdown headings and a line that
    introduces a list ("3 papers address this:") are not claims."""
    lines = (LIST_MARKER.sub("", line).strip() for line in text.splitlines())
    prose = (line for line in lines if line and not line.startswith("#") and not line.endswith(":"))
    return [s for line in prose for s in reattached(split_sentences(line))]


def reattached(sentences: list[str]) -> list[str]:
    """'Claim. [1] Next.' splits as 'Claim.' and '[1] Next.': the [1] belongs to the claim."""
    out: list[str] = []
    for sentence in sentences:
        lead = LEADING_CITATIONS.match(sentence)
        if lead and out:
            out[-1] = f"{out[-1]} {lead.group(0).strip()}"
            sentence = sentence[lead.end() :]
        if sentence.strip():
            out.append(sentence)
    return out


def facts_of(answer: Answer, seconds: float) -> AnswerFacts:
    if answer.refused:
        return AnswerFacts(True, answer.engine, seconds=seconds)
    numbers = {int(n) for group in CITATION.findall(answer.text) for n in group.split(",")}
    listed = {c.n: c.paper.title for c in answer.citations}
    sentences = answer_sentences(answer.text)
    flagged = {" ".join(s.split()) for s in answer.unsupported}
    uncited = [s for s in sentences if not CITATION.search(s) and " ".join(s.split()) not in flagged]
    return AnswerFacts(
        refused=False,
        engine=answer.engine,
        cited=tuple(listed[n] for n in sorted(numbers) if n in listed),
        sentences=len(sentences),
        uncited=len(uncited),
        unsupported=len(answer.unsupported),
        dangling=len(numbers - set(listed)),
        seconds=seconds,
    )


def relevant_cited(relevant: Sequence[str], facts: AnswerFacts) -> set[str]:
    wanted = {title_key(t) for t in relevant}
    return {title_key(t) for t in facts.cited} & wanted


def coverage(relevant: Sequence[str], facts: AnswerFacts) -> float:
    """Share of the relevant papers the answer cites."""
    wanted = {title_key(t) for t in relevant}
    return len(relevant_cited(relevant, facts)) / len(wanted) if wanted else 0.0


def citation_precision(rows: Sequence[tuple[Sequence[str], AnswerFacts]]) -> float | None:
    """Micro-averaged over every citation shown in answers to answerable questions."""
    shown = sum(len(set(map(title_key, f.cited))) for _, f in rows)
    good = sum(len(relevant_cited(r, f)) for r, f in rows)
    return round(good / shown, 4) if shown else None


Row = tuple[str, Sequence[str], AnswerFacts]  # question, relevant titles, answer facts


def answer_figures(rows: Sequence[Row]) -> dict[str, object]:
    answerable = [(r, f) for _, r, f in rows if r]
    answered = [(r, f) for r, f in answerable if not f.refused]
    multi = [(r, f) for r, f in answerable if len({title_key(t) for t in r}) >= 2]
    shown = [f for _, _, f in rows if not f.refused]
    return {
        "engines": dict(Counter(f.engine for _, _, f in rows)),
        "cites_relevant": _share(sum(bool(relevant_cited(r, f)) for r, f in answerable), len(answerable)),
        "citation_precision": citation_precision(answered),
        "citations_per_answer": _mean([len(f.cited) for _, f in answered]),
        "multi_paper_questions": len(multi),
        "multi_paper_coverage": _mean([coverage(r, f) for r, f in multi]),
        "sentences": sum(f.sentences for f in shown),
        "unsupported_sentences": sum(f.unsupported for f in shown),
        "uncited_sentences": sum(f.uncited for f in shown),
        "invented_citations": sum(f.dangling for f in shown),
        "refused_answerable": sum(f.refused for _, f in answerable),
        "answered_unanswerable": sum(not f.refused for _, r, f in rows if not r),
        "refusal_accuracy": _share(sum(f.refused != bool(r) for _, r, f in rows), len(rows)),
        **latency_figures([f.seconds for _, _, f in rows]),
        "misses": [answer_miss(q, r, f) for q, r, f in rows if r and coverage(r, f) < 1.0],
    }


def answer_miss(question: str, relevant: Sequence[str], facts: AnswerFacts) -> dict[str, object]:
    """An answerable question whose answer left a relevant paper uncited."""
    found = relevant_cited(relevant, facts)
    return {
        "question": question,
        "refused": facts.refused,
        "uncited_relevant": [t for t in relevant if title_key(t) not in found],
        "cited": list(facts.cited),
    }


def latency_figures(seconds: Sequence[float]) -> dict[str, float | None]:
    if not seconds:
        return {"latency_median_ms": None, "latency_p90_ms": None}
    ordered = sorted(seconds)
    p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
    return {"latency_median_ms": round(statistics.median(ordered) * 1000, 1), "latency_p90_ms": round(p90 * 1000, 1)}


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _mean(values: Sequence[float]) -> float | None:
    return round(statistics.fmean(values), 4) if values else None
