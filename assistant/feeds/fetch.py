"""One fetch of one feed: download, parse, ingest incrementally, remember."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

from assistant.errors import PaperbotError
from assistant.feeds.arxiv_api import error_message, parse_atom
from assistant.feeds.arxiv_rss import parse_rss
from assistant.feeds.daily import parse_daily
from assistant.feeds.http import FeedClient, FeedError, FeedRejected, Reply
from assistant.feeds.records import FeedItem, Parsed, valid_category
from assistant.feeds.state import FetchState
from assistant.ingest import IngestReport
from assistant.settings import FeedSettings

if TYPE_CHECKING:
    from assistant.engine import Engine

DAILY, CATEGORY, QUERY = "daily-papers", "arxiv-category", "arxiv-query"
MAX_QUERY_CHARS = 500


@dataclass(frozen=True)
class FeedRequest:
    """What to fetch. `day`: the Daily Papers date, or for a category the --since date
    (then the arXiv API is paged back to it instead of reading today's listing)."""

    kind: str
    value: str = ""
    day: date | None = None
    limit: int | None = None

    @property
    def key(self) -> str:
        """The feed's name in the fetch state and in subscriptions."""
        return {DAILY: DAILY, CATEGORY: f"arxiv:{self.value}"}.get(self.kind, f"arxiv-query:{self.value}")


def daily_papers(day: date | None = None) -> FeedRequest:
    return FeedRequest(DAILY, day=day)


def arxiv_category(category: str, since: date | None = None, limit: int | None = None) -> FeedRequest:
    if not valid_category(category):
        raise PaperbotError(f"{category!r} is not an arXiv category (like cs.CL, stat.ML or hep-th)")
    return FeedRequest(CATEGORY, category, since, limit)


def arxiv_query(query: str, limit: int | None = None) -> FeedRequest:
    text = " ".join(query.split())
    if not text:
        raise PaperbotError("the arXiv query is empty")
    if len(text) > MAX_QUERY_CHARS:
        raise PaperbotError(f"the arXiv query is {len(text)} characters long; the limit is {MAX_QUERY_CHARS}")
    return FeedRequest(QUERY, text, limit=limit)


@dataclass
class FetchResult:
    feed: str
    items: list[FeedItem]
    skipped: list[str]
    report: IngestReport = field(default_factory=IngestReport)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, object]:
        report = self.report.to_dict()
        return {
            "feed": self.feed,
            "fetched": len(self.items),
            "added": report["added"],
            "updated": report["updated"],
            "unchanged": report["unchanged"],
            "skipped": len(self.skipped),
            "skipped_reasons": self.skipped[:100],
            "seconds": round(self.seconds, 3),
        }


def fetch_feed(
    engine: Engine,
    request: FeedRequest,
    *,
    client: FeedClient | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> FetchResult:
    """Downloads the feed, ingests what is new or changed, and records the fetch."""
    started = time.perf_counter()
    settings = engine.settings.feeds
    state = FetchState(engine.settings.home)
    last = state.get(request.key)
    own = client is None
    client = client or FeedClient(settings)
    try:
        parsed = download(client, settings, request, last.newest_day if last else None)
    finally:
        if own:
            client.close()
    report = engine.ingest_papers([item.paper for item in parsed.items], IngestReport())
    dates = [item.paper.date for item in parsed.items if item.paper.date]
    state.record(request.key, now(), len(parsed.items), max(dates, default=None))
    return FetchResult(request.key, parsed.items, parsed.skipped, report, time.perf_counter() - started)


def download(client: FeedClient, settings: FeedSettings, request: FeedRequest, seen_until: date | None) -> Parsed:
    if request.kind == DAILY:
        params = {"date": request.day.isoformat()} if request.day else None
        return parse_daily(_checked(client.get(settings.daily_papers_url, params), "daily papers"))
    if request.kind == CATEGORY and request.day is not None:
        since, today = request.day, datetime.now(UTC).date()
        search = f"cat:{request.value} AND submittedDate:[{since:%Y%m%d}0000 TO {today:%Y%m%d}2359]"
        return api_pages(client, settings, search, request.limit, since)
    if request.kind == CATEGORY:
        url = f"{settings.arxiv_rss_url.rstrip('/')}/{request.value}"
        return parse_rss(_checked(client.get(url, spacing=settings.arxiv_interval), "arXiv listing feed"))
    return api_pages(client, settings, request.value, request.limit, seen_until)


def api_pages(
    client: FeedClient, settings: FeedSettings, search: str, limit: int | None, back_to: date | None
) -> Parsed:
    """Newest first, page by page, until `limit` papers, the end of the results, or papers
    older than `back_to` (already fetched, or before --since)."""
    limit = limit or settings.max_results
    result, start = Parsed(items=[], skipped=[]), 0
    while start < limit:
        size = min(settings.page_size, limit - start)
        page = _api_page(client, settings, search, start, size)
        result.items += page.items
        result.skipped += page.skipped
        start += size
        short = len(page.items) + len(page.skipped) < size
        older = back_to is not None and any(i.paper.date and i.paper.date < back_to for i in page.items)
        if short or older or (page.total is not None and start >= page.total):
            break
    return result


def _api_page(client: FeedClient, settings: FeedSettings, search: str, start: int, size: int) -> Parsed:
    params: dict[str, str | int] = {
        "search_query": search,
        "start": start,
        "max_results": size,
        "sortBy": "submittedDate",
        "sortOrder": "descending",
    }
    reply = client.get(settings.arxiv_api_url, params, spacing=settings.arxiv_interval)
    if reply.status == 400 and (message := error_message(reply.body)):
        raise FeedRejected(message)
    return parse_atom(_checked(reply, "arXiv API"))


def _checked(reply: Reply, what: str) -> bytes:
    if reply.status != 200:
        raise FeedError(f"{what} at {reply.host} answered HTTP {reply.status}")
    return reply.body
