"""One paper per work: copies met in several files (or runs) merge, richest metadata wins.

Two copies are the same work when they share an arXiv id or a DOI, or, failing both, a
normalised title with years no more than one apart (a preprint and its proceedings
version). Distinct arXiv ids, or distinct publisher DOIs, never merge on a title alone:
fifty papers called "Introduction" stay fifty papers.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from assistant.models import Paper
from assistant.sources.common import title_key
from assistant.sources.identifiers import arxiv_of_doi
from assistant.sources.reference_formats import EDITABLE_SOURCES

MAX_YEAR_GAP = 1


@dataclass(frozen=True)
class Identity:
    """What tells one work from another: enough of a paper (or a stored record) to match on."""

    arxiv: str | None
    doi: str | None
    title_key: str
    year: int | None

    @classmethod
    def of(cls, paper: Paper) -> Identity:
        return cls(paper.arxiv_id, paper.doi, title_key(paper.title), paper.date.year if paper.date else None)

    @property
    def publisher_doi(self) -> str | None:
        """A DOI that is not arXiv's own (10.48550/arXiv.X names the preprint, not the work)."""
        return None if self.doi is None or arxiv_of_doi(self.doi) else self.doi


def same_work(first: Identity, second: Identity) -> bool:
    if first.arxiv and second.arxiv:
        return first.arxiv == second.arxiv
    if first.doi and first.doi == second.doi:
        return True
    if first.publisher_doi and second.publisher_doi:
        return False
    if not first.title_key or first.title_key != second.title_key:
        return False
    return first.year is None or second.year is None or abs(first.year - second.year) <= MAX_YEAR_GAP


def _union(first: tuple[str, ...], second: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(first + second))


def _earliest(first: Paper, second: Paper) -> Paper:
    dates = [d for d in (first.date, second.date) if d is not None]
    return first if not dates or first.date == min(dates) else second


def _doi(kept: Paper, other: Paper) -> str | None:
    """The publisher's DOI over arXiv's, else whichever is known."""
    for doi in (kept.doi, other.doi):
        if doi and not arxiv_of_doi(doi):
            return doi
    return kept.doi or other.doi


def merge_pair(kept: Paper, other: Paper) -> Paper:
    """Field by field, the fuller value wins; an arXiv id beats a DOI's or a title's hash."""
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
        doi=_doi(kept, other),
    )


def update_stored(stored: Paper, incoming: Paper) -> Paper:
    """What a stored paper becomes when a new copy arrives. A reference manager's export is a
    record the user edits: re-imported from the same (and only) source, its new version
    replaces the old one, so a corrected title or a shortened abstract takes effect. Every
    other copy merges, the richest metadata winning."""
    if stored.sources == incoming.sources and set(incoming.sources) <= EDITABLE_SOURCES:
        return replace(incoming, id=stored.arxiv_id or incoming.arxiv_id or stored.id)
    return merge_pair(stored, incoming)


def match_keys(identity: Identity) -> list[str]:
    """The index keys under which a copy of the same work may be filed."""
    keys = [f"title:{identity.title_key}"]
    if identity.arxiv:
        keys.append(f"arxiv:{identity.arxiv}")
    if identity.doi:
        keys.append(f"doi:{identity.doi}")
    return keys


def merge_papers(papers: Iterable[Paper]) -> list[Paper]:
    """Copies of one work become one paper, in first-seen order."""
    merged: list[Paper] = []
    filed: dict[str, list[int]] = {}  # match key -> slots filed under it
    for paper in papers:
        identity = Identity.of(paper)
        slot = _find_slot(identity, merged, filed)
        if slot is None:
            slot = len(merged)
            merged.append(paper)
        else:
            merged[slot] = merge_pair(merged[slot], paper)
        for key in {*match_keys(identity), *match_keys(Identity.of(merged[slot]))}:
            if slot not in filed.setdefault(key, []):
                filed[key].append(slot)
    return _unique_ids(merged)


def _find_slot(identity: Identity, merged: list[Paper], filed: dict[str, list[int]]) -> int | None:
    for key in match_keys(identity)[::-1]:  # identifiers before titles
        for slot in filed.get(key, ()):
            if same_work(identity, Identity.of(merged[slot])):
                return slot
    return None


def _unique_ids(papers: list[Paper]) -> list[Paper]:
    """Two works that only a title hash names (no arXiv id, no DOI) yet differ in year share an
    id; they are one paper to the store, so they merge here rather than overwrite each other."""
    by_id: dict[str, Paper] = {}
    for paper in papers:
        by_id[paper.id] = merge_pair(by_id[paper.id], paper) if paper.id in by_id else paper
    return list(by_id.values())
