"""One paper per work: copies met in several files (or runs) merge, richest metadata wins."""

from __future__ import annotations

from collections.abc import Iterable

from assistant.models import Paper
from assistant.sources.common import title_key


def _union(first: tuple[str, ...], second: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(first + second))


def _earliest(first: Paper, second: Paper) -> Paper:
    dates = [d for d in (first.date, second.date) if d is not None]
    return first if not dates or first.date == min(dates) else second


def merge_pair(kept: Paper, other: Paper) -> Paper:
    """Field by field, the fuller value wins; an arXiv id beats a title hash."""
    return Paper(
        id=kept.arxiv_id or other.arxiv_id or kept.id,
        title=kept.title or other.title,
        abstract=max(kept.abstract, other.abstract, key=len),
        authors=max(kept.authors, other.authors, key=len),
        author_count=kept.author_count or other.author_count,
        date=_earliest(kept, other).date,
        url=kept.url or other.url,
        categories=_union(kept.categories, other.categories),
        sources=_union(kept.sources, other.sources),
    )


def merge_papers(papers: Iterable[Paper]) -> list[Paper]:
    """Papers with the same id or the same normalized title become one, in first-seen order."""
    merged: dict[str, Paper] = {}
    slot_of: dict[str, str] = {}
    for paper in papers:
        keys = (paper.id, title_key(paper.title))
        slot = next((slot_of[key] for key in keys if key in slot_of), None)
        if slot is None:
            slot = paper.id
            merged[slot] = paper
        else:
            merged[slot] = merge_pair(merged[slot], paper)
        for key in (*keys, merged[slot].id):
            slot_of[key] = slot
    return list(merged.values())
