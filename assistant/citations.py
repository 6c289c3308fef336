"""Citations a reader can trust, checked after generation.

- A number no source was given under is removed.
- Sources are renumbered in order of first use, so an answer reads [1], [2], [3].
- A cited sentence that shares (almost) no content words with the sources it cites is
  flagged as unsupported.

The rewriter works on a stream, so what the terminal shows is already renumbered: it holds
back an unfinished "[12" until the bracket closes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from assistant.lexical import terms
from assistant.text import split_sentences

CITATION = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
MAYBE_CITATION = re.compile(r"\[[\d,\s]*")  # an opening that may still become a citation
LONGEST_CITATION = 32
# A sentence is supported when it shares at least this many content words with what it
# cites, and at least this fraction of its own content words.
MIN_SHARED_TERMS = 2
MIN_SHARED_FRACTION = 0.2


class CitationRewriter:
    """Feed text as it arrives; get it back with citations checked and renumbered."""

    def __init__(self, sources: int) -> None:
        self.sources = sources
        self.order: list[int] = []  # the model's numbers, in order of first use
        self.dropped: list[int] = []  # numbers cited that no source has
        self._pending = ""
        self._space = ""

    def feed(self, text: str) -> str:
        self._pending += text
        out = self._space  # whitespace held back from the last piece
        self._space = ""
        while self._pending:
            start = self._pending.find("[")
            if start < 0:
                out += self._pending
                self._pending = ""
                break
            out += self._pending[:start]
            self._pending = self._pending[start:]
            if match := CITATION.match(self._pending):
                renumbered = self._renumber(match)
                # A citation removed whole takes the space before it along: "claim [9]." -> "claim."
                out = out + renumbered if renumbered else out.rstrip(" \t")
                self._pending = self._pending[match.end() :]
            elif MAYBE_CITATION.fullmatch(self._pending) and len(self._pending) < LONGEST_CITATION:
                break  # wait for the rest of the bracket
            else:
                out += "["
                self._pending = self._pending[1:]
        body = out.rstrip(" \t")  # a citation may follow: hold the trailing space until we know
        self._space = out[len(body) :]
        return body

    def finish(self) -> str:
        rest, self._pending, self._space = self._space + self._pending, "", ""
        return rest

    def _renumber(self, match: re.Match[str]) -> str:
        kept: list[int] = []
        for number in (int(part) for part in match.group(1).split(",")):
            if not 1 <= number <= self.sources:
                self.dropped.append(number)
                continue
            if number not in self.order:
                self.order.append(number)
            kept.append(self.order.index(number) + 1)
        return "".join(f"[{n}]" for n in dict.fromkeys(kept))


def rewrite(text: str, sources: int) -> tuple[str, CitationRewriter]:
    """The whole-text form of the rewriter (non-streaming answers, tests)."""
    rewriter = CitationRewriter(sources)
    return tidy(rewriter.feed(text) + rewriter.finish()), rewriter


def tidy(text: str) -> str:
    """Removing a citation can leave 'claim .'; close such gaps."""
    return re.sub(r"[ \t]+([.,;:!?])", r"\1", text).strip()


def unsupported_sentences(text: str, cited_texts: Mapping[int, str]) -> list[str]:
    """Sentences whose citations (final numbering) point at text that does not back them."""
    flagged = []
    for sentence in (s for line in prose_lines(text) for s in split_sentences(line)):
        numbers = [int(n) for group in CITATION.findall(sentence) for n in group.split(",")]
        if numbers and not supports(CITATION.sub(" ", sentence), [cited_texts.get(n, "") for n in numbers]):
            flagged.append(sentence)
    return flagged


def prose_lines(text: str) -> list[str]:
    """Markdown's text lines without headings and list markers, so sentences never run across them."""
    lines = (re.sub(r"^\s*(?:[-*+]|\d+\.)\s+", "", line).strip() for line in text.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def supports(claim: str, evidence: Sequence[str]) -> bool:
    claimed = {t for t in terms(claim) if not t.isdigit()}
    if not claimed:
        return True  # nothing to check ("See [1].")
    available = {t for text in evidence for t in terms(text)}
    shared = len(claimed & available)
    return shared >= min(MIN_SHARED_TERMS, len(claimed)) and shared >= MIN_SHARED_FRACTION * len(claimed)
