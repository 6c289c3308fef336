"""Hugging Face Daily Papers listing pages saved as text.

A page is page chrome, then per paper: a title line, an abstract line, and optionally
"• N authors", "·" and a date such as "Jun 14, 2023" (an upvote count may follow it).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from assistant.models import Paper
from assistant.sources.common import ParsedFile, Record, make_paper, parse_date, read_text

FORMAT = "daily-papers"
SOURCE = "daily-papers"

CHROME = {
    "new",
    "get trending papers in your email inbox!",
    "subscribe",
    "daily papers",
    "byak and the research community",
}
AUTHORS = re.compile(r"^•\s*(\d+)\s+authors?$")
SEPARATOR = "·"
# A paper's date, with an optional upvote count after it.
DATED = re.compile(r"^([A-Z][a-z]{2} \d{1,2}, \d{4})(?:\s+\d+)?$")
# Listing dates and this-year dates carry no year: nothing to store.
YEARLESS = re.compile(r"^[A-Z][a-z]{2} \d{1,2}(?:\s+\d+)?$")
MAX_TITLE_CHARS = 300


# A saved page is recognised by its structure, not by words a note could contain: the page's
# own header line, or its "Daily Papers" heading line together with a paper's metadata lines.
HEADER = "byak and the research community"
HEADING = "daily papers"
# An abstract is a paragraph; a title is a line. A line longer than any title, or a sentence
# of this many words, is taken for an abstract.
ABSTRACT_WORDS = 12
_LINE_BREAK = re.compile(r"\r\n|\r|\n")  # only real line ends: str.splitlines also splits on \f, U+2028...


def looks_like(text: str) -> bool:
    lines = [line.strip() for line in _LINE_BREAK.split(text[:4000])]
    folded = {line.casefold() for line in lines}
    return HEADER in folded or (HEADING in folded and any(AUTHORS.match(line) for line in lines))


def _is_metadata(line: str) -> bool:
    return bool(line == SEPARATOR or AUTHORS.match(line) or DATED.match(line) or YEARLESS.match(line))


def _is_abstract(line: str) -> bool:
    return len(line) > MAX_TITLE_CHARS or (line.endswith(".") and len(line.split()) >= ABSTRACT_WORDS)


def _content_lines(text: str) -> list[str]:
    lines = (line.strip() for line in _LINE_BREAK.split(text))
    return [line for line in lines if line and line.casefold() not in CHROME]


def _with_metadata(paper: Paper, line: str) -> Paper:
    if count := AUTHORS.match(line):
        return replace(paper, author_count=int(count.group(1)))
    if dated := DATED.match(line):
        return replace(paper, date=parse_date(dated.group(1)))
    return paper


def records_daily(path: Path) -> Iterator[Record]:
    """Listing pages are small: read whole, then handed out one paper at a time."""
    parsed = parse(path)
    yield from parsed.papers
    yield from parsed.skipped


def parse(path: Path) -> ParsedFile:
    result = ParsedFile(path=path, format=FORMAT)
    lines = _content_lines(read_text(path))
    i = 0
    while i < len(lines):
        i += _take(result, lines, i)
    return result


def _take(result: ParsedFile, lines: list[str], i: int) -> int:
    """Reads what starts at line i into `result`; returns how many lines it used."""
    line, following = lines[i], lines[i + 1] if i + 1 < len(lines) else ""
    # An organisation name can stand where "• N authors" does, always before "·".
    if _is_metadata(line) or following == SEPARATOR:
        if result.papers:
            result.papers[-1] = _with_metadata(result.papers[-1], line)
        return 1
    name = result.path.name
    if _is_abstract(line):  # a paragraph with no title before it
        result.skipped.append(f"{name}: text without a title: {line[:60]!r}")
        return 1
    if len(line) > MAX_TITLE_CHARS or not _is_abstract(following):
        # The next line is another title (or metadata): this paper has no abstract, and the
        # next line starts the next paper.
        result.skipped.append(f"{name}: no abstract after {line[:60]!r}")
        return 1
    result.papers.append(make_paper(title=line, abstract=following, source=SOURCE))
    return 2
