"""Generated answers: the top papers as fenced, numbered sources in a prompt from prompts/,
the model's [n] citations checked and renumbered, unsupported sentences flagged.

Abstracts are untrusted text. They go inside <source> tags that they cannot close, and the
system prompt tells the model that nothing inside is an instruction. Whatever the model
writes, an answer without a single valid citation is not presented as a cited answer.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from assistant.answering import not_found
from assistant.citations import CitationRewriter, tidy, unsupported_sentences
from assistant.llm import ChatClient, Messages
from assistant.models import Answer, Citation, Paper, ScoredPaper
from assistant.prompting import render, template
from assistant.retrieval import gate_score

NOT_FOUND = "NOT_FOUND"
CHUNKS_PER_SOURCE = 3
TAG = re.compile(r"</?\s*source\b[^>]*>?", re.IGNORECASE)
OnToken = Callable[[str], None]


@dataclass(frozen=True)
class Source:
    n: int
    paper: Paper
    text: str  # the retrieved chunks, best first


def fenced(source: Source) -> str:
    date = source.paper.date.isoformat() if source.paper.date else "unknown"
    body = TAG.sub(" ", source.text)  # an abstract must not be able to close its own fence
    title = TAG.sub(" ", source.paper.title)
    return f'<source n="{source.n}">\ntitle: {title}\ndate: {date}\ntext: {body}\n</source>'


def answer_messages(question: str, sources: Sequence[Source]) -> Messages:
    return [
        {"role": "system", "content": template("answer_system")},
        {
            "role": "user",
            "content": render("answer_user", sources="\n\n".join(fenced(s) for s in sources), question=question),
        },
    ]


class GenerativeAnswerer:
    def __init__(self, llm: ChatClient, chunk_texts: Callable[[list[str]], dict[str, str]], min_score: float) -> None:
        self.llm = llm
        self.chunk_texts = chunk_texts
        self.min_score = min_score

    def answer(self, question: str, papers: list[ScoredPaper], on_token: OnToken | None = None) -> Answer:
        if gate_score(papers) < self.min_score:
            return not_found(question, self.llm.name, tuple(papers))
        sources = self.sources(papers)
        rewriter = CitationRewriter(len(sources))
        raw = self._generate(answer_messages(question, sources), rewriter, on_token)
        text = tidy(raw)
        if text.startswith(NOT_FOUND) or not rewriter.order:
            return not_found(question, self.llm.name, tuple(papers))
        cited = [sources[n - 1] for n in rewriter.order]
        citations = tuple(Citation(i, source.paper) for i, source in enumerate(cited, start=1))
        evidence = {i: f"{source.paper.title}\n{source.text}" for i, source in enumerate(cited, start=1)}
        flagged = tuple(unsupported_sentences(text, evidence))
        return Answer(question, text, False, self.llm.name, citations, tuple(papers), flagged)

    def sources(self, papers: list[ScoredPaper]) -> list[Source]:
        """The papers past the gate, each with its best retrieved chunks in reading order."""
        relevant = [p for p in papers if p.similarity >= self.min_score]
        chosen = {p.paper.id: sorted(p.chunk_ids[:CHUNKS_PER_SOURCE], key=chunk_position) for p in relevant}
        texts = self.chunk_texts([cid for ids in chosen.values() for cid in ids])
        sources = []
        for n, p in enumerate(relevant, start=1):
            text = " ".join(texts[cid] for cid in chosen[p.paper.id] if cid in texts)
            sources.append(Source(n, p.paper, text or p.paper.abstract))
        return sources

    def _generate(self, messages: Messages, rewriter: CitationRewriter, on_token: OnToken | None) -> str:
        if on_token is None:
            return rewriter.feed(self.llm.complete(messages)) + rewriter.finish()
        pieces = iter(self.llm.stream(messages))
        head = ""
        for piece in pieces:  # hold back the start while it may still be the NOT_FOUND marker
            head += piece
            if not may_be_marker(head):
                break
        if may_be_marker(head):
            return head
        shown = [rewriter.feed(head)]
        on_token(shown[0])
        for piece in pieces:
            shown.append(rewriter.feed(piece))
            on_token(shown[-1])
        shown.append(rewriter.finish())
        on_token(shown[-1])
        return "".join(shown)


def chunk_position(chunk_id: str) -> int:
    return int(chunk_id.rsplit("#", 1)[1])


def may_be_marker(text: str) -> bool:
    start = text.lstrip()
    return NOT_FOUND.startswith(start) or start.startswith(NOT_FOUND)
