"""RIS files (Zotero, Mendeley, EndNote, Scopus, Web of Science exports), read with rispy.

Tags read: TI/T1 (title), AB/N2 (abstract), AU/A1 (authors, "Last, First"), PY/Y1/DA
(date, "2025///" or "2025/03/14/"), DO (DOI), UR (URL), KW (keywords), ID (the record's key),
and T2/JO/N1/M1 where an arXiv id may hide.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import rispy

from assistant.errors import PaperbotError
from assistant.sources.common import Record, read_text
from assistant.sources.references import Reference, iso_date, to_record

FORMAT = "ris"
SOURCE = "ris"
_FIRST_TAG = re.compile(r"^\s*TY  - ", re.MULTILINE)
_HINT_KEYS = ("secondary_title", "journal_name", "notes", "note", "custom1", "name_of_database")


def looks_like(head: str) -> bool:
    """A record starts with "TY  - " (two spaces, a dash, a space) on its own line."""
    return bool(_FIRST_TAG.search(head))


def records_ris(path: Path) -> Iterator[Record]:
    try:
        items = rispy.loads(read_text(path), skip_unknown_tags=True)
    except (ValueError, TypeError, KeyError) as exc:  # rispy's complaints about a broken file
        raise PaperbotError(f"{path}: malformed RIS ({exc})") from None
    for number, item in enumerate(items, start=1):
        yield to_record(reference(item, number), SOURCE, path.name)


def _text(item: Mapping[str, Any], *keys: str) -> str:
    for key in keys:
        value = item.get(key)
        if isinstance(value, list):
            value = " ".join(str(part) for part in value)
        if value:
            return str(value)
    return ""


def _list(item: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = item.get(key)
    if not value:
        return ()
    return tuple(str(part) for part in (value if isinstance(value, list) else [value]))


def reference(item: Mapping[str, Any], number: int) -> Reference:
    urls = _list(item, "urls")
    return Reference(
        key=_text(item, "id") or f"record {number}",
        title=_text(item, "title", "primary_title"),
        abstract=_text(item, "abstract", "notes_abstract"),
        authors=_list(item, "authors") or _list(item, "first_authors"),
        published=iso_date(_text(item, "date")) or iso_date(_text(item, "year", "publication_year")),
        doi=_text(item, "doi"),
        url=urls[0] if urls else "",
        keywords=_list(item, "keywords"),
        arxiv_hints=(*urls, *(_text(item, key) for key in _HINT_KEYS)),
        note="\n".join(_list(item, "notes")),
    )
