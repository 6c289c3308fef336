"""JSON lines: the arXiv OAI snapshot, or the plain title + abstract schema."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from assistant.errors import PaperbotError
from assistant.models import Paper
from assistant.sources import arxiv_oai, records
from assistant.sources.common import ParsedFile, read_text

FORMAT = "jsonl"
SOURCE = "jsonl"

ToPaper = Callable[[Mapping[str, object]], "Paper | str"]


def iter_objects(path: Path) -> Iterator[tuple[int, dict[str, object]]]:
    """(line number, object) for each non-blank line; malformed lines are errors."""
    for number, line in enumerate(read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise PaperbotError(f"{path}:{number}: malformed JSON ({exc.msg})") from None
        if not isinstance(value, dict):
            raise PaperbotError(f"{path}:{number}: expected a JSON object, got {type(value).__name__}")
        yield number, value


def first_object(path: Path) -> dict[str, object] | None:
    """The first record, read from the file's first line only, for format detection."""
    with path.open("rb") as handle:
        for line in handle:
            if line.strip():
                try:
                    value = json.loads(line)
                except (json.JSONDecodeError, UnicodeDecodeError):
                    return None  # parse() reports the bad line with its number
                return value if isinstance(value, dict) else None
    return None


def _parse(path: Path, fmt: str, to_paper: ToPaper) -> ParsedFile:
    result = ParsedFile(path=path, format=fmt)
    for number, obj in iter_objects(path):
        paper = to_paper(obj)
        if isinstance(paper, str):
            result.skipped.append(f"{path.name}:{number}: {paper}")
        else:
            result.papers.append(paper)
    return result


def parse_plain(path: Path) -> ParsedFile:
    return _parse(path, FORMAT, lambda obj: records.to_paper(obj, SOURCE))


def parse_arxiv(path: Path) -> ParsedFile:
    return _parse(path, arxiv_oai.FORMAT, arxiv_oai.to_paper)
