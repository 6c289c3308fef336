"""Parsers for paper libraries, chosen by extension and a look at the content."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from assistant.errors import PaperbotError
from assistant.sources import arxiv_oai, csv_table, daily_papers, jsonl, reference_formats
from assistant.sources.common import ParsedFile, Record, check_head, head_text, read_text

Reader = Callable[[Path], Iterator[Record]]

# Each reader streams a file's records (papers, or why a line was rejected), so a file of
# millions of lines never sits in memory.
READERS: dict[str, Reader] = {
    daily_papers.FORMAT: daily_papers.records_daily,
    arxiv_oai.FORMAT: jsonl.records_arxiv,
    jsonl.FORMAT: jsonl.records_plain,
    csv_table.FORMAT: csv_table.records_csv,
    **reference_formats.READERS,
}
FORMATS = tuple(READERS)
EXTENSIONS = {".txt", ".jsonl", ".ndjson", ".json", ".csv"} | reference_formats.EXTENSIONS


def detect_format(path: Path) -> str:
    """The format of `path`, from its extension and its first records."""
    if found := reference_formats.sniff(head_text(path)):
        return found
    suffix = path.suffix.casefold()
    if suffix in {".jsonl", ".ndjson", ".json"}:
        first = jsonl.first_object(path)
        return arxiv_oai.FORMAT if first and arxiv_oai.looks_like(first) else jsonl.FORMAT
    if suffix == ".csv":
        return csv_table.FORMAT
    text = head_text(path)
    if daily_papers.looks_like(text):
        return daily_papers.FORMAT
    if csv_table.has_required_columns(csv_table.header(text)):
        return csv_table.FORMAT
    raise PaperbotError(f"{path}: unknown format; pass --format ({', '.join(FORMATS)})")


def file_format(path: Path, fmt: str | None = None) -> str:
    """The format to read `path` as; file-level problems (empty, binary) raise here."""
    if fmt is not None and fmt not in READERS:
        raise PaperbotError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    check_head(path)
    return fmt or detect_format(path)


def read_records(path: Path, fmt: str) -> Iterator[Record]:
    return READERS[fmt](path)


def parse_file(path: Path, fmt: str | None = None) -> ParsedFile:
    """A whole file at once: for small files and tests; ingest streams with read_records."""
    chosen = file_format(path, fmt)
    result = ParsedFile(path=path, format=chosen)
    for record in read_records(path, chosen):
        if isinstance(record, str):
            result.skipped.append(record)
        else:
            result.papers.append(record)
    return result


def expand_paths(paths: Iterable[Path]) -> Iterator[tuple[Path, str | None]]:
    """(file, None) for files to read; (file, reason) for files in folders left out."""
    for path in paths:
        if not path.exists():
            raise PaperbotError(f"{path}: no such file or directory")
        if path.is_file():
            yield path, None
            continue
        if not path.is_dir():  # a device (/dev/zero), a pipe or a socket: endless or read once
            raise PaperbotError(f"{path}: not a regular file or a folder")
        for child in sorted(p for p in path.rglob("*") if p.is_file()):
            if child.name.startswith("."):
                continue
            supported = child.suffix.casefold() in EXTENSIONS
            yield child, None if supported else f"{child}: unsupported extension"


__all__ = [
    "FORMATS",
    "ParsedFile",
    "Record",
    "detect_format",
    "expand_paths",
    "file_format",
    "parse_file",
    "read_records",
    "read_text",
]
