"""Feed entries become Papers here, with every field from outside checked and bounded."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from assistant.models import Paper
from assistant.sources.common import arxiv_id, clean_text, make_paper, missing_fields

MAX_ITEMS = 5000  # entries read from one response; a feed page holds a few hundred at most
MAX_TITLE_CHARS = 500
MAX_AUTHORS = 200
MAX_AUTHOR_CHARS = 200
MAX_CATEGORIES = 20
CATEGORY = re.compile(r"^[a-z][a-z-]{0,15}(\.[A-Za-z][A-Za-z-]{0,15})?$")  # cs.LG, stat.ML, hep-th, math.AG


@dataclass(frozen=True)
class FeedItem:
    """A paper as one feed announced it; `announce` is arXiv's "Announce Type" (new, cross,
    replace, replace-cross) when the feed says it."""

    paper: Paper
    announce: str | None = None

    @property
    def is_new(self) -> bool:
        return self.announce in (None, "new", "cross")


@dataclass
class Parsed:
    """What one response held: items, the reasons entries were left out, and the total the
    feed claims (arXiv API only; not trusted on its own)."""

    items: list[FeedItem]
    skipped: list[str]
    total: int | None = None


def feed_paper(
    *,
    source: str,
    title: str,
    abstract: str,
    raw_id: str | None,
    authors: list[str],
    published: date | None,
    categories: list[str],
) -> Paper | str:
    """The Paper, or why the entry is not one. Links are built from the arXiv id, never taken
    from the feed, so a hostile feed cannot plant a link."""
    title, abstract = clean_text(title), clean_text(abstract)
    if reason := missing_fields(title, abstract):
        return reason
    if len(title) > MAX_TITLE_CHARS:
        return f"title of {len(title):,} characters (the limit is {MAX_TITLE_CHARS})"
    return make_paper(
        title=title,
        abstract=abstract,
        source=source,
        raw_id=raw_id if arxiv_id(raw_id) else None,
        authors=tuple(clean_text(a)[:MAX_AUTHOR_CHARS] for a in authors[:MAX_AUTHORS] if clean_text(a)),
        published=published,
        categories=tuple(dict.fromkeys(c for c in categories[:MAX_CATEGORIES] if CATEGORY.match(c))),
    )


def iso_day(value: object) -> date | None:
    """2024-04-02 from "2024-04-02T19:28:11.000Z"; None for anything else."""
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return datetime.strptime(value[:10], "%Y-%m-%d").date()
    except ValueError:
        return None


def valid_category(value: str) -> bool:
    return bool(CATEGORY.match(value))
