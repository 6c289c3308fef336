"""JSON lines: the arXiv OAI snapshot, or the plain title + abstract schema."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from assistant.models import Paper
from assistant.sources import arxiv_oai, records
from assistant.sources.common import LineTooLong, Record, check_head, numbered_lines

FORMAT = "jsonl"
SOURCE = "jsonl"

ToPaper = Callable[[Mapping[str, object]], "Paper | str"]


def iter_objects(path: Path) -> Iterator[tuple[int, dict[str, object] | str]]:
    """(line number, object or the reason the line is not one) for each non-blank line."""
    for number, line in numbered_lines(path):
        if line is None or isinstance(line, LineTooLong):
            yield number, "not UTF-8 text" if line is None else str(line)
            continue
        if line.strip():
            yield number, _object(line)


def _object(line: str) -> dict[str, object] | str:
    try:
        value = json.loads(line)
    except json.JSONDecodeError as exc:
        return f"malformed JSON ({exc.msg})"
    except RecursionError:  # json recurses once per nesting level
        return "malformed JSON (nested too deeply)"
    return value if isinstance(value, dict) else f"expected a JSON object, got {type(value).__name__}"


def first_object(path: Path) -> dict[str, object] | None:
    """The first record, read from the file's first line only, for format detection."""
    for _, line in numbered_lines(path):
        if isinstance(line, str) and not line.strip():
            continue
        value = _object(line) if isinstance(line, str) else None
        return value if isinstance(value, dict) else None  # the records report a bad line
    return None


def _records(path: Path, to_paper: ToPaper) -> Iterator[Record]:
    check_head(path)
    for number, obj in iter_objects(path):
        paper = to_paper(obj) if isinstance(obj, dict) else obj
        yield f"{path.name}:{number}: {paper}" if isinstance(paper, str) else paper


def records_plain(path: Path) -> Iterator[Record]:
    return _records(path, lambda obj: records.to_paper(obj, SOURCE))


def records_arxiv(path: Path) -> Iterator[Record]:
    return _records(path, arxiv_oai.to_paper)
