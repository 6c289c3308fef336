"""Records of the arXiv OAI metadata snapshot (one JSON object a line)."""

from __future__ import annotations

from collections.abc import Mapping

from assistant.models import Paper
from assistant.sources.common import make_paper, missing_fields, parse_date

FORMAT = "arxiv-oai"
SOURCE = "arxiv-oai"
MARKERS = ("authors_parsed", "versions", "update_date", "submitter")


def looks_like(record: Mapping[str, object]) -> bool:
    return "id" in record and sum(key in record for key in MARKERS) >= 2


def _authors(record: Mapping[str, object]) -> tuple[str, ...] | str:
    """The authors, or why `authors_parsed` cannot be read (then the record is rejected: a
    snapshot line with a broken field is a broken line)."""
    if "authors_parsed" in record:
        parsed = record["authors_parsed"]
        if not isinstance(parsed, list) or not all(_is_parsed_name(part) for part in parsed):
            return "authors_parsed is not a list of [last, first, suffix] names"
        names = (" ".join(p.strip() for p in (part[1], part[0], *part[2:3]) if p.strip()) for part in parsed)
        return tuple(name for name in names if name)
    raw = record.get("authors")
    raw = raw if isinstance(raw, str) else ""
    return tuple(name.strip() for name in raw.replace(" and ", ",").split(",") if name.strip())


def _is_parsed_name(part: object) -> bool:
    return isinstance(part, list) and len(part) >= 2 and all(isinstance(p, str) for p in part)


def _first_version_date(record: Mapping[str, object]) -> str | None:
    versions = record.get("versions")
    if isinstance(versions, list) and versions and isinstance(versions[0], dict):
        created = versions[0].get("created")
        return str(created) if created else None
    return None


def to_paper(record: Mapping[str, object]) -> Paper | str:
    title, abstract = record.get("title") or "", record.get("abstract") or ""
    if not isinstance(title, str) or not isinstance(abstract, str):
        return "title and abstract must be text"
    if reason := missing_fields(title, abstract):
        return reason
    authors = _authors(record)
    if isinstance(authors, str):
        return authors
    published = parse_date(_first_version_date(record)) or parse_date(str(record.get("update_date") or ""))
    return make_paper(
        title=title,
        abstract=abstract,
        source=SOURCE,
        raw_id=str(record.get("id") or ""),
        authors=authors,
        published=published,
        categories=tuple(str(record.get("categories") or "").split()),
    )
