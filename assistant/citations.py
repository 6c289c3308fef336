"""Citations a reader can trust, checked after generation.

- A number no source was given under is removed; so is every marker that names no listed
  source ("[-1]", "[^1]", "[¹]", "[" + thousands of digits). Ranges and lists expand:
  "[1-3]" and "[1, 3]" become "[1][2][3]" and "[1][3]".
- Sources are renumbered in order of first use, so an answer reads [1], [2], [3].
- A cited sentence that shares (almost) no content words with the sources it cites is
  flagged as unsupported.

The rewriter works on a stream, so what the terminal shows is already renumbered: it holds
back an unfinished "[12" until the bracket closes (an unclosed one is dropped at the end).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from assistant.lexical import terms
from assistant.text import split_sentences

CITATION = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
SUPERSCRIPTS = "⁰¹²³⁴⁵⁶⁷⁸⁹"
# "[" and what may follow it in a citation-like marker: digits, separators, ranges, footnote forms.
DASHES = "\\-\u2013\u2014"  # hyphen, en dash, em dash: "[1-3]" however it is typed
MARKER_BODY = rf"[\d \t,;^{DASHES}{SUPERSCRIPTS}]*"
MARKER_OPEN = re.compile(rf"\[{MARKER_BODY}")
MARKER_REST = re.compile(MARKER_BODY)
ITEM = re.compile(rf"([0-9]{{1,6}})(?:\s*[{DASHES}]\s*([0-9]{{1,6}}))?")
LONGEST_CITATION = 64  # an unclosed marker held back longer than this is dropped, not shown
# A sentence is supported when it shares at least this many content words with what it
# cites, and at least this fraction of its own content words.
MIN_SHARED_TERMS = 2
MIN_SHARED_FRACTION = 0.2


def marker_numbers(body: str, sources: int, dropped: list[int]) -> list[int]:
    """The listed sources a marker's inside names: "1, 3" and "1-3" expand; footnote forms
    ("^1", superscripts), negative or out-of-range numbers name none (and are dropped)."""
    if "^" in body or any(ch in SUPERSCRIPTS for ch in body):
        return []
    numbers: list[int] = []
    for item in re.split(r"[,;]", body):
        match = ITEM.fullmatch(item.strip())
        if match is None:
            continue
        low = int(match.group(1))
        high = int(match.group(2)) if match.group(2) else low
        if high < low:
            continue
        dropped.extend(n for n in {low, high} if not 1 <= n <= sources)
        numbers.extend(range(max(low, 1), min(high, sources) + 1))
    return list(dict.fromkeys(numbers))


class CitationRewriter:
    """Feed text as it arrives; get it back with citations checked (and renumbered by first
    use unless `renumber` is off). One pass over the text: linear in its length."""

    def __init__(self, sources: int, renumber: bool = True) -> None:
        self.sources = sources
        self.renumber = renumber
        self.order: list[int] = []  # the model's numbers, in order of first use
        self.dropped: list[int] = []  # numbers cited that no source has
        self._pending = ""  # an unclosed marker, at most LONGEST_CITATION long
        self._space = ""
        self._skipping = False  # inside an overlong marker: drop it to its end

    def feed(self, text: str) -> str:
        buffer, self._pending = self._pending + text, ""
        out = [self._space]  # whitespace held back from the last piece
        self._space = ""
        at = self._skip(buffer, 0)
        while at < len(buffer):
            start = buffer.find("[", at)
            if start < 0:
                out.append(buffer[at:])
                break
            out.append(buffer[at:start])
            at = self._marker(buffer, start, out)
        body = "".join(out)
        kept = body.rstrip(" \t")  # a citation may follow: hold the trailing space until we know
        self._space = body[len(kept) :]
        return kept

    def _skip(self, buffer: str, at: int) -> int:
        if not self._skipping:
            return at
        at = MARKER_REST.match(buffer, at).end()  # type: ignore[union-attr]  # matches the empty string too
        if at < len(buffer):
            self._skipping = False
            at += buffer[at] == "]"
        return at

    def _marker(self, buffer: str, start: int, out: list[str]) -> int:
        """Handles the "[" at `start`; returns where to go on."""
        end = MARKER_OPEN.match(buffer, start).end()  # type: ignore[union-attr]  # "[" always matches
        if buffer[end : end + 1] == "]":
            shown = self._rewrite(buffer[start + 1 : end])
            if shown:
                out.append(shown)
            else:  # a citation removed whole takes the space before it along: "claim [9]." -> "claim."
                strip_trailing_space(out)
            return end + 1
        if end == len(buffer):  # may still become a citation
            if end - start < LONGEST_CITATION:
                self._pending = buffer[start:]
            else:
                self._skipping = True
            return end
        out.append(buffer[start:end])  # "[CLS]", "[a, b]": not a citation
        return end

    def _rewrite(self, body: str) -> str:
        kept: list[int] = []
        for number in marker_numbers(body, self.sources, self.dropped):
            if number not in self.order:
                self.order.append(number)
            kept.append(self.order.index(number) + 1 if self.renumber else number)
        return "".join(f"[{n}]" for n in dict.fromkeys(kept))

    def finish(self) -> str:
        """The end of the reply: an unclosed marker is not shown."""
        rest, self._pending, self._space, self._skipping = self._space, "", "", False
        return rest


def strip_trailing_space(out: list[str]) -> None:
    while out and out[-1].endswith((" ", "\t")):
        out[-1] = out[-1].rstrip(" \t")
        if out[-1]:
            break
        out.pop()


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
