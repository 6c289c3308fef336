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


def looks_like(text: str) -> bool:
    head = text[:4000].casefold()
    return "byak and the research community" in head or "daily papers" in head


def _is_metadata(line: str) -> bool:
    return bool(line == SEPARATOR or AUTHORS.match(line) or DATED.match(line) or YEARLESS.match(line))


def _content_lines(text: str) -> list[str]:
    lines = (line.strip() for line in text.splitlines())
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
        # An organisation name can stand where "• N authors" does, always before "·".
        before_separator = i + 1 < len(lines) and lines[i + 1] == SEPARATOR
        if _is_metadata(lines[i]) or before_separator:
            if result.papers:
                result.papers[-1] = _with_metadata(result.papers[-1], lines[i])
            i += 1
            continue
        title, abstract = lines[i], lines[i + 1] if i + 1 < len(lines) else ""
        if len(title) > MAX_TITLE_CHARS or not abstract or _is_metadata(abstract):
            result.skipped.append(f"{path.name}: no abstract after {title[:60]!r}")
            i += 1
            continue
        result.papers.append(make_paper(title=title, abstract=abstract, source=SOURCE))
        i += 2
    return result
