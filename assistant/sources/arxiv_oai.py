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


def _authors(record: Mapping[str, object]) -> tuple[str, ...]:
    parsed = record.get("authors_parsed")
    if isinstance(parsed, list):
        names = (" ".join(p for p in (part[1], part[0], part[2]) if p) for part in parsed if len(part) >= 2)
        return tuple(name.strip() for name in names if name.strip())
    raw = str(record.get("authors") or "")
    return tuple(name.strip() for name in raw.replace(" and ", ",").split(",") if name.strip())


def _first_version_date(record: Mapping[str, object]) -> str | None:
    versions = record.get("versions")
    if isinstance(versions, list) and versions and isinstance(versions[0], dict):
        created = versions[0].get("created")
        return str(created) if created else None
    return None


def to_paper(record: Mapping[str, object]) -> Paper | str:
    title, abstract = str(record.get("title") or ""), str(record.get("abstract") or "")
    if reason := missing_fields(title, abstract):
        return reason
    published = parse_date(_first_version_date(record)) or parse_date(str(record.get("update_date") or ""))
    return make_paper(
        title=title,
        abstract=abstract,
        source=SOURCE,
        raw_id=str(record.get("id") or ""),
        authors=_authors(record),
        published=published,
        categories=tuple(str(record.get("categories") or "").split()),
    )
