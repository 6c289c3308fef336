"""CSV files with a header row: the arXiv abstracts CSV or the plain schema."""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Iterator
from pathlib import Path

from assistant.errors import PaperbotError
from assistant.sources import records
from assistant.sources.common import Record, head_text

FORMAT = "csv"
SOURCE = "csv"
REPLACED = "\ufffd"  # what the decoder puts where bytes were not UTF-8
# The default (128 KiB) would fail the whole file on one huge field; such a row is rejected
# by the abstract length check instead.
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


def header(text: str) -> list[str]:
    return next(csv.reader(io.StringIO(text)), [])


def has_required_columns(columns: list[str]) -> bool:
    names = {column.strip().casefold() for column in columns}
    return all(names & set(records.ALIASES[key]) for key in ("title", "abstract"))


def records_csv(path: Path) -> Iterator[Record]:
    """Rows streamed from the file; a row with bytes that are not UTF-8 is rejected, not the file."""
    columns = header(head_text(path))
    if not has_required_columns(columns):
        raise PaperbotError(f"{path}: CSV needs a title and an abstract column, found {columns[:8]}")
    with path.open("rb") as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace", newline="")
        reader = csv.DictReader(text)
        # Reading fieldnames consumes the header row; then normalize the names for the aliases.
        reader.fieldnames = [str(column).strip().casefold() for column in reader.fieldnames or columns]
        try:
            for row in reader:
                yield _record(row, f"{path.name}:{reader.line_num}")
        except csv.Error as exc:
            raise PaperbotError(f"{path}:{reader.line_num}: malformed CSV ({exc})") from None


def _record(row: dict[str, str | None], where: str) -> Record:
    if any(REPLACED in (value or "") for value in row.values() if isinstance(value, str)):
        return f"{where}: not UTF-8 text"
    paper = records.to_paper(row, SOURCE)
    return f"{where}: {paper}" if isinstance(paper, str) else paper
