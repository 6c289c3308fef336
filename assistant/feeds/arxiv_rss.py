"""arXiv listing feeds (rss.arxiv.org/rss/<categories>): RSS 2.0, one <item> per
announcement; the description reads "arXiv:ID Announce Type: TYPE \\nAbstract: ..."."""

from __future__ import annotations

import re
from datetime import date
from email.utils import parsedate_to_datetime
from xml.etree.ElementTree import Element

from assistant.feeds.http import FeedError
from assistant.feeds.records import MAX_ITEMS, FeedItem, Parsed, feed_paper
from assistant.feeds.xml import ARXIV, DC, parse_xml, text_of

SOURCE = "arxiv"
WHAT = "arXiv listing feed"
DESCRIPTION = re.compile(r"^\s*arXiv:(\S+)\s+Announce Type:\s*([\w-]+)\s*Abstract:\s*(.*)$", re.DOTALL)
ANNOUNCE_TYPES = {"new", "cross", "replace", "replace-cross"}


def parse_rss(body: bytes) -> Parsed:
    root = parse_xml(body, WHAT)
    channel = root.find("channel")
    if root.tag != "rss" or channel is None:
        raise FeedError(f"{WHAT}: expected RSS with a <channel>")
    parsed = Parsed(items=[], skipped=[])
    for item in channel.findall("item")[:MAX_ITEMS]:
        result = _item(item)
        if isinstance(result, str):
            parsed.skipped.append(f"{WHAT} item {text_of(item, 'title')[:60]!r}: {result}")
        else:
            parsed.items.append(result)
    return parsed


def _item(item: Element) -> FeedItem | str:
    description = text_of(item, "description")
    match = DESCRIPTION.match(description)
    raw_id = match.group(1) if match else text_of(item, "guid").strip().removeprefix("oai:arXiv.org:")
    abstract = match.group(3) if match else description
    announce = (text_of(item, f"{ARXIV}announce_type") or (match.group(2) if match else "")).strip()
    result = feed_paper(
        source=SOURCE,
        title=text_of(item, "title"),
        abstract=abstract,
        raw_id=raw_id,
        authors=[name for name in text_of(item, f"{DC}creator").split(",") if name.strip()],
        published=_day(text_of(item, "pubDate")),
        categories=[(c.text or "").strip() for c in item.findall("category")],
    )
    if isinstance(result, str):
        return result
    if result.arxiv_id is None:
        return "no arXiv id"
    return FeedItem(result, announce if announce in ANNOUNCE_TYPES else None)


def _day(raw: str) -> date | None:
    try:
        return parsedate_to_datetime(raw.strip()).date()
    except (TypeError, ValueError, IndexError):
        return None
