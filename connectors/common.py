"""Input parsing the CLI and the Discord bot share."""

from __future__ import annotations

from datetime import date, datetime

from assistant.errors import PaperbotError
from assistant.models import Filters
from assistant.sources import FORMATS


def parse_day(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise PaperbotError(f"{option} expects a date as YYYY-MM-DD, got {value!r}") from None


SOURCES = (*FORMATS, "arxiv")  # file formats, and the arXiv feeds (`paperbot fetch arxiv`)


def make_filters(since: str | None, until: str | None, source: str | None) -> Filters:
    if source is not None and source not in SOURCES:
        raise PaperbotError(f"--source must be one of {', '.join(SOURCES)}, got {source!r}")
    return Filters(parse_day(since, "--since"), parse_day(until, "--until"), source)
