"""Hugging Face daily papers API: a JSON array of objects with a nested `paper`
(id = arXiv id, title, summary, authors[].name, publishedAt)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from assistant.feeds.http import FeedError
from assistant.feeds.records import MAX_ITEMS, FeedItem, Parsed, feed_paper, iso_day

SOURCE = "daily-papers"


def parse_daily(body: bytes) -> Parsed:
    try:
        data = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FeedError(f"daily papers: the response is not valid JSON ({_where(exc)})") from None
    if not isinstance(data, list):
        raise FeedError(f"daily papers: expected a JSON array, got {type(data).__name__}")
    parsed = Parsed(items=[], skipped=[])
    for number, element in enumerate(data[:MAX_ITEMS], start=1):
        record = _paper_record(element)
        if isinstance(record, str):
            parsed.skipped.append(f"daily papers entry {number}: {record}")
        else:
            parsed.items.append(record)
    return parsed


def _paper_record(element: Any) -> FeedItem | str:
    paper = element.get("paper") if isinstance(element, Mapping) else None
    if not isinstance(paper, Mapping):
        return "no paper object"
    raw_id, title, summary = paper.get("id"), paper.get("title"), paper.get("summary")
    if not (isinstance(raw_id, str) and isinstance(title, str) and isinstance(summary, str)):
        return "id, title or summary missing or not text"
    authors = paper.get("authors")
    names = [a.get("name") for a in authors if isinstance(a, Mapping)] if isinstance(authors, list) else []
    result = feed_paper(
        source=SOURCE,
        title=title,
        abstract=summary,
        raw_id=raw_id,
        authors=[name for name in names if isinstance(name, str)],
        published=iso_day(paper.get("publishedAt")),
        categories=[],
    )
    return result if isinstance(result, str) else FeedItem(result)


def _where(exc: Exception) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"line {exc.lineno}, column {exc.colno}"
    return "not UTF-8"
