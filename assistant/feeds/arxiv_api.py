"""The arXiv API (export.arxiv.org/api/query): Atom 1.0, read by namespace and element, so
the 2025 serialization and the legacy one read the same."""

from __future__ import annotations

from xml.etree.ElementTree import Element

from assistant.feeds.http import FeedError, FeedRejected
from assistant.feeds.records import MAX_ITEMS, FeedItem, Parsed, feed_paper, iso_day
from assistant.feeds.xml import ARXIV, ATOM, OPENSEARCH, parse_xml, text_of

SOURCE = "arxiv"
WHAT = "arXiv API"


def parse_atom(body: bytes) -> Parsed:
    """Entries as papers; an error entry (title "Error", id under /api/errors) raises."""
    root = parse_xml(body, WHAT)
    if root.tag != f"{ATOM}feed":
        raise FeedError(f"{WHAT}: expected an Atom feed, got <{_local(root.tag)}>")
    entries = root.findall(f"{ATOM}entry")
    for entry in entries:
        _raise_if_error(entry)
    parsed = Parsed(items=[], skipped=[], total=_total(root))
    for entry in entries[:MAX_ITEMS]:
        result = _entry_paper(entry)
        if isinstance(result, str):
            parsed.skipped.append(f"{WHAT} entry {text_of(entry, f'{ATOM}id')[:80]!r}: {result}")
        else:
            parsed.items.append(result)
    return parsed


def error_message(body: bytes) -> str | None:
    """The message of an Atom error feed (arXiv answers HTTP 400 with one), else None."""
    try:
        root = parse_xml(body, WHAT)
        for entry in root.findall(f"{ATOM}entry"):
            _raise_if_error(entry)
    except FeedRejected as exc:
        return str(exc)
    except FeedError:
        return None
    return None


def _raise_if_error(entry: Element) -> None:
    entry_id = text_of(entry, f"{ATOM}id")
    if "/api/errors" in entry_id or text_of(entry, f"{ATOM}title").strip() == "Error":
        detail = " ".join(text_of(entry, f"{ATOM}summary").split())[:300] or "no detail given"
        raise FeedRejected(f"arXiv rejected the request: {detail}")


def _entry_paper(entry: Element) -> FeedItem | str:
    authors = [text_of(author, f"{ATOM}name") for author in entry.findall(f"{ATOM}author")]
    primary = entry.find(f"{ARXIV}primary_category")
    terms = [primary.get("term", "")] if primary is not None else []
    terms += [category.get("term", "") for category in entry.findall(f"{ATOM}category")]
    result = feed_paper(
        source=SOURCE,
        title=text_of(entry, f"{ATOM}title"),
        abstract=text_of(entry, f"{ATOM}summary"),
        raw_id=text_of(entry, f"{ATOM}id").strip(),
        authors=authors,
        published=iso_day(text_of(entry, f"{ATOM}published").strip()),
        categories=terms,
    )
    if isinstance(result, str):
        return result
    if result.arxiv_id is None:
        return "no arXiv id"
    return FeedItem(result)


def _total(root: Element) -> int | None:
    raw = text_of(root, f"{OPENSEARCH}totalResults").strip()
    return int(raw) if raw.isdigit() else None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1][:40]
