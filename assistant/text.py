"""Small text helpers shared by answering and rendering."""

from __future__ import annotations

import re

# A sentence ends at . ! or ? followed by a space and a capital, digit or bracket; "e.g. the"
# and "et al. (" stay whole because a lowercase word or "(" follows.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\[\"“])")
_ABBREVIATIONS = ("e.g.", "i.e.", "et al.", "vs.", "Fig.", "Eq.", "cf.")


def split_sentences(text: str) -> list[str]:
    sentences: list[str] = []
    for piece in _SENTENCE_END.split(text.strip()):
        if sentences and sentences[-1].endswith(_ABBREVIATIONS):
            sentences[-1] = f"{sentences[-1]} {piece}"
        elif piece:
            sentences.append(piece)
    return sentences


def cited(sentence: str, n: int) -> str:
    """'Claim. [1]' reads as 'Claim [1].', and the citation stays inside its sentence."""
    body = sentence.rstrip()
    end = body[-1] if body and body[-1] in ".!?" else ""
    return f"{body[: len(body) - len(end)]} [{n}]{end}"
