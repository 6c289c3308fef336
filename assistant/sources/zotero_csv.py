"""Zotero's CSV export: 87 quoted columns starting "Key","Item Type","Publication Year".

Read: Key, Title, Abstract Note, Author ("Last, First; Last, First"), Date / Publication
Year, DOI, Url, Manual Tags / Automatic Tags ("; "-separated), and the fields where Zotero
puts a preprint's arXiv id (Extra "arXiv: 2003.07441", Publication Title "arXiv:2003.07441 [cs]").
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Mapping
from pathlib import Path

from assistant.errors import PaperbotError
from assistant.sources.common import Record
from assistant.sources.references import Reference, iso_date, make_date, to_record

FORMAT = "zotero-csv"
SOURCE = "zotero-csv"
REQUIRED = {"key", "item type", "title", "abstract note"}
_SEMICOLONS = re.compile(r"\s*;\s*")


def header(head: str) -> set[str]:
    first = next(csv.reader(io.StringIO(head.lstrip("\ufeff"))), [])
    return {column.strip().casefold() for column in first}


def looks_like(head: str) -> bool:
    return header(head) >= REQUIRED


def records_zotero_csv(path: Path) -> Iterator[Record]:
    with path.open("rb") as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace", newline="")
        reader = csv.DictReader(text)
        reader.fieldnames = [str(column).strip().casefold() for column in reader.fieldnames or ()]
        try:
            for row in reader:
                yield to_record(reference(row), SOURCE, f"{path.name}:{reader.line_num}")
        except csv.Error as exc:
            raise PaperbotError(f"{path}:{reader.line_num}: malformed CSV ({exc})") from None


def reference(row: Mapping[str, str | None]) -> Reference:
    def get(name: str) -> str:
        return (row.get(name) or "").strip()

    tags = f"{get('manual tags')};{get('automatic tags')}"
    return Reference(
        key=get("key"),
        title=get("title"),
        abstract=get("abstract note"),
        authors=tuple(name for name in _SEMICOLONS.split(get("author")) if name),
        published=iso_date(get("date")) or make_date(get("publication year")),
        doi=get("doi"),
        url=get("url"),
        keywords=tuple(_SEMICOLONS.split(tags)),
        arxiv_hints=(get("extra"), get("publication title"), get("archive id"), get("number")),
    )
