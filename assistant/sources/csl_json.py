"""CSL-JSON (Zotero's "CSL JSON" export, Better CSL JSON, Mendeley, pandoc): a JSON array
of items with title, abstract, author [{family, given}], issued {date-parts}, DOI and URL."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from assistant.errors import PaperbotError
from assistant.sources.common import Record, read_text
from assistant.sources.references import Reference, iso_date, make_date, to_record

FORMAT = "csl-json"
SOURCE = "csl-json"
_ITEM_START = re.compile(r'^\ufeff?\s*\[\s*(\{\s*"[\w-]+"\s*:|\])')
_HINT_KEYS = ("note", "number", "container-title", "archive_location", "publisher")


def looks_like(head: str) -> bool:
    """A JSON array of objects whose first object has a CSL "type" or "title" near the top."""
    return bool(_ITEM_START.match(head)) and bool(re.search(r'"(type|title)"\s*:', head))


def records_csl_json(path: Path) -> Iterator[Record]:
    try:
        items = json.loads(read_text(path))
    except json.JSONDecodeError as exc:
        raise PaperbotError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    if not isinstance(items, list):
        raise PaperbotError(f"{path}: CSL-JSON must be an array of items")
    for number, item in enumerate(items, start=1):
        if isinstance(item, dict):
            yield to_record(reference(item, number), SOURCE, path.name)
        else:
            yield f"{path.name}: item {number}: not a JSON object"


def _text(value: Any) -> str:
    return value if isinstance(value, str) else str(value) if isinstance(value, int | float) else ""


def _person(person: Any) -> str:
    if not isinstance(person, dict):
        return ""
    if literal := _text(person.get("literal")):
        return literal
    parts = (person.get("given"), person.get("non-dropping-particle"), person.get("family"), person.get("suffix"))
    return " ".join(_text(part) for part in parts if _text(part))


def issued(value: Any) -> Any:
    """{"date-parts": [["2026", 4, 26]]} (the year may be a string), or {"raw": "2021-03"}."""
    if not isinstance(value, dict):
        return None
    parts = value.get("date-parts")
    if isinstance(parts, list) and parts and isinstance(parts[0], list) and parts[0]:
        return make_date(*[_text(part) for part in parts[0][:3]])
    return iso_date(_text(value.get("raw") or value.get("literal")))


def reference(item: Mapping[str, Any], number: int) -> Reference:
    authors = item.get("author")
    return Reference(
        key=_text(item.get("citation-key")) or _text(item.get("id")) or f"item {number}",
        title=_text(item.get("title")),
        abstract=_text(item.get("abstract")),
        authors=tuple(_person(person) for person in authors) if isinstance(authors, list) else (),
        published=issued(item.get("issued")),
        doi=_text(item.get("DOI")),
        url=_text(item.get("URL")),
        keywords=tuple(re.split(r"\s*[,;]\s*", _text(item.get("keyword")))),
        arxiv_hints=tuple(_text(item.get(key)) for key in _HINT_KEYS),
        note=_text(item.get("note")),
    )
