"""CSV files with a header row: the arXiv abstracts CSV or the plain schema."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from assistant.errors import PaperbotError
from assistant.sources import records
from assistant.sources.common import ParsedFile, read_text

FORMAT = "csv"
SOURCE = "csv"


def header(text: str) -> list[str]:
    return next(csv.reader(io.StringIO(text)), [])


def has_required_columns(columns: list[str]) -> bool:
    names = {column.strip().casefold() for column in columns}
    return all(names & set(records.ALIASES[key]) for key in ("title", "abstract"))


def parse(path: Path) -> ParsedFile:
    text = read_text(path)
    columns = header(text)
    if not has_required_columns(columns):
        raise PaperbotError(f"{path}: CSV needs a title and an abstract column, found {columns[:8]}")
    result = ParsedFile(path=path, format=FORMAT)
    reader = csv.DictReader(io.StringIO(text))
    # Reading fieldnames consumes the header row; then normalize the names for the aliases.
    reader.fieldnames = [str(column).strip().casefold() for column in reader.fieldnames or columns]
    try:
        for row in reader:
            paper = records.to_paper(row, SOURCE)
            if isinstance(paper, str):
                result.skipped.append(f"{path.name}:{reader.line_num}: {paper}")
            else:
                result.papers.append(paper)
    except csv.Error as exc:
        raise PaperbotError(f"{path}:{reader.line_num}: malformed CSV ({exc})") from None
    return result
