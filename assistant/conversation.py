"""A bounded conversation, and follow-ups rewritten into standalone questions.

"And which of them used transformers?" means nothing to a retriever. With an LLM the
follow-up is rewritten from the last turns (prompts/condense.txt); without one, a follow-up
that refers back ("them", "it", "those"...) is searched together with the question before.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from assistant.lexical import terms
from assistant.models import Answer
from assistant.prompting import render

if TYPE_CHECKING:
    from assistant.llm import ChatClient

MAX_TURNS = 10
SHORT_TERMS = 2  # a follow-up with this few content words needs the earlier subject
CONTINUES = re.compile(r"^\s*(and|also|what else|more on|tell me more)\b", re.IGNORECASE)
ANSWER_CHARS = 600  # of each earlier answer shown to the rewriter
MAX_QUESTION_CHARS = 500  # a rewritten follow-up longer than this is not a question
REFERS_BACK = re.compile(
    r"\b(them|they|those|these|it|its|their|theirs|which of|the (first|second|third|last|same) one)\b",
    re.IGNORECASE,
)


@dataclass
class Conversation:
    turns: deque[Answer] = field(default_factory=lambda: deque(maxlen=MAX_TURNS))

    def add(self, answer: Answer) -> None:
        self.turns.append(answer)

    def reset(self) -> None:
        self.turns.clear()

    @property
    def last(self) -> Answer | None:
        return self.turns[-1] if self.turns else None


def transcript(turns: Sequence[Answer]) -> str:
    lines = []
    for turn in turns:
        lines.append(f"User: {turn.standalone or turn.question}")
        lines.append(f"Assistant: {turn.text[:ANSWER_CHARS]}")
        if turn.citations:
            lines.append("Papers cited: " + "; ".join(f"[{c.n}] {c.paper.title}" for c in turn.citations))
    return "\n".join(lines)


def condense(llm: ChatClient, question: str, turns: Sequence[Answer], deadline: float | None = None) -> str:
    prompt = render("condense", history=transcript(turns), question=question)
    reply = llm.complete([{"role": "user", "content": prompt}], deadline).strip()
    first_line = reply.splitlines()[0].strip().strip('"') if reply else ""
    if keeps_the_subject(first_line, question, turns):
        return first_line
    return follow_up(question, turns[-1])  # a small model's rambling is no question: rewrite offline


def keeps_the_subject(rewrite: str, question: str, turns: Sequence[Answer]) -> bool:
    """A rewrite is usable when it is short and shares a content word with what was asked."""
    if not 0 < len(rewrite) <= MAX_QUESTION_CHARS:
        return False
    asked = set(terms(question)).union(*(terms(turn.standalone or turn.question) for turn in turns))
    return bool(asked & set(terms(rewrite)))


def follow_up(question: str, previous: Answer) -> str:
    """The offline rewrite: keep the earlier subject when the follow-up points back at it
    ("which of them..."), continues it ("and for vision?") or is too short to stand
    alone ("results?")."""
    if not (REFERS_BACK.search(question) or CONTINUES.search(question) or len(terms(question)) <= SHORT_TERMS):
        return question
    return f"{previous.standalone or previous.question} {question}"
