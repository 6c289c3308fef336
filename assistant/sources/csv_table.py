"""CSV files with a header row: the arXiv abstracts CSV or the plain schema."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

from assistant.errors import PaperbotError
from assistant.sources import records
from assistant.sources.common import MAX_LINE_BYTES, LineTooLong, Record, head_text, numbered_lines

FORMAT = "csv"
SOURCE = "csv"
REPLACED = "\ufffd"  # what the decoder puts where bytes were not UTF-8
OVERLONG = "\x1fpaperbot-overlong:"  # stands in for a line too long to read (control characters never reach a paper)
# A field may span lines, but no abstract needs more than this: a broken quote that would
# swallow the rest of a huge file fails the file here instead of filling memory. (The
# default, 128 KiB, would fail a whole file on one long field, which the abstract length
# check rejects as a row instead.)
csv.field_size_limit(8 * MAX_LINE_BYTES)


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
    reader = csv.DictReader(_lines(path))
    # Reading fieldnames consumes the header row; then normalize the names for the aliases.
    reader.fieldnames = [str(column).strip().casefold() for column in reader.fieldnames or columns]
    try:
        for row in reader:
            yield _record(row, f"{path.name}:{reader.line_num}")
    except csv.Error as exc:
        raise PaperbotError(f"{path}:{reader.line_num}: malformed CSV ({exc})") from None


def _lines(path: Path) -> Iterator[str]:
    """The file's lines for the csv module, each read with a bounded size: an overlong one
    becomes a marker its row is rejected for, bytes that are not UTF-8 become U+FFFD."""
    for _, line in numbered_lines(path, errors="replace"):
        yield f"{OVERLONG}{line.size}\n" if isinstance(line, LineTooLong) else line or ""


def _record(row: dict[str, str | None], where: str) -> Record:
    values = [value for value in row.values() if isinstance(value, str)]
    if overlong := next((value for value in values if OVERLONG in value), None):
        return f"{where}: {LineTooLong(int(overlong.split(OVERLONG, 1)[1].split()[0]))}"
    if any(REPLACED in value for value in values):
        return f"{where}: not UTF-8 text"
    paper = records.to_paper(row, SOURCE)
    return f"{where}: {paper}" if isinstance(paper, str) else paper
