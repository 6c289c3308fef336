"""One reference-manager item (BibTeX entry, RIS record, Zotero CSV row, CSL-JSON item) as a
Paper: what the four importers share once each has read its own format.

An item without an abstract is not a paper paperbot can search, but it is not dropped
silently either: it becomes a reason naming its key, which ingest counts and reports.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date

from assistant.models import Paper
from assistant.sources.common import MAX_ABSTRACT_CHARS, clean_text, make_paper
from assistant.sources.identifiers import doi_paper_id, find_arxiv, normal_doi

_AUTHOR_COUNT = re.compile(r"^\s*(\d{1,5}) authors\s*$", re.MULTILINE)
_YEAR = re.compile(r"\b(1[89]\d\d|20\d\d)\b")
_ISO = re.compile(r"^(\d{4})(?:[-/](\d{1,2}))?(?:[-/](\d{1,2}))?")
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


@dataclass
class Reference:
    """The fields paperbot reads from any reference format, as plain text."""

    key: str
    title: str = ""
    abstract: str = ""
    authors: tuple[str, ...] = ()
    published: date | None = None
    doi: str = ""
    url: str = ""
    keywords: tuple[str, ...] = ()
    arxiv_hints: tuple[str, ...] = ()  # fields that may name an arXiv id (eprint, journal, note...)
    note: str = ""  # where paperbot's own exports say "12 authors" when only the count is known


def person(name: str) -> str:
    """ "Last, First" and "von Last, Jr, First" -> "First von Last Jr"; other names as they are."""
    parts = [part.strip() for part in name.split(",")]
    if len(parts) == 2 and all(parts):
        return f"{parts[1]} {parts[0]}"
    if len(parts) == 3 and all(parts):
        return f"{parts[2]} {parts[0]} {parts[1]}"
    return clean_text(name)


def make_date(year: object, month: object = None, day: object = None) -> date | None:
    """A date from loose parts ("2023", "mar", 3, ...); missing month or day means the first."""
    found = _YEAR.search(str(year or ""))
    if not found:
        return None
    try:
        return date(int(found.group(1)), _month(month), _number(day, 31))
    except ValueError:
        return date(int(found.group(1)), _month(month), 1)


def _month(value: object) -> int:
    text = str(value or "").strip().casefold()[:3]
    if text in MONTHS:
        return MONTHS.index(text) + 1
    return _number(value, 12)


def _number(value: object, most: int) -> int:
    text = str(value or "").strip()
    return int(text) if text.isdigit() and 1 <= int(text) <= most else 1


def iso_date(text: str | None) -> date | None:
    """ "2023-03-24", "2025///", "2025/03/14/", "2021-03" and "2020" alike."""
    match = _ISO.match((text or "").strip())
    return make_date(match.group(1), match.group(2), match.group(3)) if match else None


def to_record(ref: Reference, source: str, where: str) -> Paper | str:
    """The paper, or why the item is left out (with its key, so people can find it)."""
    title, abstract = clean_text(ref.title), clean_text(ref.abstract)
    label = f"{where}: {ref.key or '(no key)'}"
    if not title:
        return f"{label}: no title"
    if not abstract:
        return f"{label} ({title[:60]}): no abstract"
    if len(abstract) > MAX_ABSTRACT_CHARS:
        return f"{label}: abstract of {len(abstract):,} characters (the limit is {MAX_ABSTRACT_CHARS:,})"
    doi = normal_doi(ref.doi)
    arxiv = find_arxiv(*ref.arxiv_hints, ref.url, doi)
    paper = make_paper(
        title=title,
        abstract=abstract,
        source=source,
        raw_id=arxiv,
        authors=tuple(a for a in (person(name) for name in ref.authors) if a),
        author_count=int(count.group(1)) if (count := _AUTHOR_COUNT.search(ref.note)) else None,
        published=ref.published,
        url=ref.url.strip() or None,
        categories=tuple(dict.fromkeys(k.strip() for k in ref.keywords if k.strip())),
    )
    if doi is None:
        return paper
    return replace(paper, doi=doi, id=paper.id if arxiv else doi_paper_id(doi))
