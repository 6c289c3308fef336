"""Turn one flat record (a CSV row or a JSON object) into a Paper.

Column names are matched through aliases, so the arXiv abstracts CSV (titles, summaries,
terms) and the plain schema documented in the README (title, abstract, ...) share one path.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping

from assistant.models import Paper
from assistant.sources.common import make_paper, missing_fields, parse_date

ALIASES = {
    "title": ("title", "titles"),
    "abstract": ("abstract", "summary", "summaries"),
    "id": ("arxiv_id", "id", "arxiv"),
    "authors": ("authors", "author"),
    "author_count": ("author_count", "n_authors"),
    "date": ("date", "published", "update_date"),
    "url": ("url", "link"),
    "categories": ("categories", "terms", "tags"),
}
_LIST_SPLIT = re.compile(r"\s*(?:,|;|\band\b)\s*")


def field(record: Mapping[str, object], name: str) -> object:
    for alias in ALIASES[name]:
        value = record.get(alias)
        if value not in (None, ""):
            return value
    return None


def as_text(value: object) -> str:
    return "" if value is None else str(value)


def as_list(value: object, *, split: re.Pattern[str] = _LIST_SPLIT) -> tuple[str, ...]:
    """Lists stay lists; "['a', 'b']" (pandas' CSV export) and "a, b" become lists."""
    if value is None:
        return ()
    if isinstance(value, list | tuple):
        return tuple(str(item).strip() for item in value if str(item).strip())
    text = str(value).strip()
    if text.startswith("["):
        try:
            return as_list(ast.literal_eval(text), split=split)
        except (ValueError, SyntaxError, RecursionError, MemoryError):  # "[[[[..." nests without end
            pass
    return tuple(part for part in split.split(text) if part)


def as_count(value: object) -> int | None:
    try:
        count = int(str(value)) if value is not None else None
    except ValueError:
        return None
    return count if count is None or 0 <= count < 100_000 else None


def to_paper(record: Mapping[str, object], source: str) -> Paper | str:
    """The paper, or the reason this record is not one."""
    raw_title, raw_abstract = field(record, "title"), field(record, "abstract")
    if not isinstance(raw_title, str | None) or not isinstance(raw_abstract, str | None):
        return "title and abstract must be text"
    title, abstract = as_text(raw_title), as_text(raw_abstract)
    if reason := missing_fields(title, abstract):
        return reason
    return make_paper(
        title=title,
        abstract=abstract,
        source=source,
        raw_id=as_text(field(record, "id")) or None,
        authors=as_list(field(record, "authors")),
        author_count=as_count(field(record, "author_count")),
        published=parse_date(as_text(field(record, "date"))),
        url=as_text(field(record, "url")) or None,
        categories=as_list(field(record, "categories"), split=re.compile(r"[\s,;]+")),
    )
