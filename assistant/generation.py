"""Generated answers: the top papers as fenced, numbered sources in a prompt from prompts/,
the reply checked sentence by sentence (assistant/checking.py) before anyone sees it.

Whether the library can answer is the retrieval gate's decision, not the model's: past the
gate, a model that refuses, loops from the start or cites nothing usable gets the
extractive answer shown instead, labelled (`NoUsableAnswer`), never "Not found".
A reply cut short by the deadline or the length cap keeps its checked sentences, labelled.

Abstracts are untrusted text. They go inside <source> tags that they cannot close, and the
system prompt tells the model that nothing inside is an instruction.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from assistant.answering import not_found
from assistant.checking import MAX_SENTENCES, Checked, Evidence, SentenceChecker, SentenceSplitter
from assistant.citations import CitationRewriter
from assistant.embeddings import Embedder
from assistant.errors import LLMUnavailable
from assistant.llm import ChatClient, Messages, ReplyCut
from assistant.models import Answer, Citation, Paper, ScoredPaper
from assistant.prompting import render, template
from assistant.retrieval import gate_score, past_gate

NOT_FOUND = "NOT_FOUND"
CHUNKS_PER_SOURCE = 2  # compact sources: a small model on a CPU reads every token
TAG = re.compile(r"</?\s*source\b[^>]*>?", re.IGNORECASE)
OnToken = Callable[[str], None]
CUT = "The model's answer was cut short ({reason}); showing the checked part that arrived."


class NoUsableAnswer(LLMUnavailable):
    """Past the gate, the model refused or wrote nothing citable: the engine falls back."""


@dataclass(frozen=True)
class PromptSource:
    n: int
    paper: Paper
    text: str  # the retrieved chunks, best first


def fenced(source: PromptSource) -> str:
    date = source.paper.date.isoformat() if source.paper.date else "unknown"
    body = TAG.sub(" ", source.text)  # an abstract must not be able to close its own fence
    title = TAG.sub(" ", source.paper.title)
    return f'<source n="{source.n}">\ntitle: {title}\ndate: {date}\ntext: {body}\n</source>'


def answer_messages(question: str, sources: Sequence[PromptSource]) -> Messages:
    return [
        {"role": "system", "content": template("answer_system")},
        {
            "role": "user",
            "content": render("answer_user", sources="\n\n".join(fenced(s) for s in sources), question=question),
        },
    ]


class GenerativeAnswerer:
    def __init__(
        self,
        llm: ChatClient,
        chunk_texts: Callable[[list[str]], dict[str, str]],
        min_score: float,
        embedder: Embedder,
    ) -> None:
        self.llm = llm
        self.chunk_texts = chunk_texts
        self.min_score = min_score
        self.embedder = embedder

    def answer(
        self, question: str, papers: list[ScoredPaper], on_token: OnToken | None = None, deadline: float | None = None
    ) -> Answer:
        if gate_score(papers) < self.min_score:
            return not_found(question, self.llm.name, tuple(papers))
        sources = self.sources(papers)
        evidence = Evidence(self.embedder, {s.n: f"{s.paper.title}\n{s.text}" for s in sources})
        run = Generation(SentenceChecker(evidence), len(sources), on_token)
        notice = run.consume(self.llm.stream(answer_messages(question, sources), deadline))
        if run.refused or not run.checker.order:
            raise NoUsableAnswer("it gave no cited answer" if not run.refused else "it declined to answer")
        cited = [sources[n - 1] for n in run.checker.order]
        citations = tuple(Citation(i, source.paper) for i, source in enumerate(cited, start=1))
        flagged = tuple(c.text for c in run.shown if c.flagged)
        return Answer(question, run.text, False, self.llm.name, citations, tuple(papers), flagged, notice)

    def sources(self, papers: list[ScoredPaper]) -> list[PromptSource]:
        """The papers past the gate, each with its best retrieved chunks in reading order."""
        relevant = past_gate(papers, self.min_score)
        chosen = {p.paper.id: sorted(p.chunk_ids[:CHUNKS_PER_SOURCE], key=chunk_position) for p in relevant}
        texts = self.chunk_texts([cid for ids in chosen.values() for cid in ids])
        sources = []
        for n, p in enumerate(relevant, start=1):
            text = " ".join(texts[cid] for cid in chosen[p.paper.id] if cid in texts)
            sources.append(PromptSource(n, p.paper, text or p.paper.abstract))
        return sources


class Generation:
    """One reply, piece by piece: citations parsed, sentences checked, then shown."""

    def __init__(self, checker: SentenceChecker, sources: int, on_token: OnToken | None) -> None:
        self.checker = checker
        self.citations = CitationRewriter(sources, renumber=False)
        self.splitter = SentenceSplitter()
        self.on_token = on_token
        self.shown: list[Checked] = []
        self.refused = False

    @property
    def text(self) -> str:
        return " ".join(c.text for c in self.shown)

    @property
    def done(self) -> bool:
        return self.refused or self.checker.looping or len(self.shown) >= MAX_SENTENCES or self.splitter.running_on

    def consume(self, pieces: Iterator[str]) -> str | None:
        """Reads the reply to its end (or a loop); returns a notice when it was cut short."""
        try:
            for piece in pieces:
                self.take(self.splitter.feed(self.citations.feed(piece)))
                if self.done:
                    return None  # leaving the loop closes the stream
        except ReplyCut as exc:
            if not self.checker.order:
                raise
            return CUT.format(reason=str(exc))
        self.take(self.splitter.feed(self.citations.finish()) + self.splitter.finish())
        return None

    def take(self, sentences: list[str]) -> None:
        for sentence in sentences:
            if self.done:
                return
            if NOT_FOUND in sentence and not self.shown:
                self.refused = True
                return
            checked = self.checker.check(sentence)
            if checked is not None:
                self.show(checked)

    def show(self, checked: Checked) -> None:
        if self.on_token is not None:
            self.on_token(("" if not self.shown else " ") + checked.text)
        self.shown.append(checked)


def chunk_position(chunk_id: str) -> int:
    return int(chunk_id.rsplit("#", 1)[1])
