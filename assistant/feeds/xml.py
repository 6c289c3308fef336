"""XML from feeds, parsed safely: defusedxml refuses entity expansion and external DTDs."""

from __future__ import annotations

from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from assistant.feeds.http import FeedError

ATOM = "{http://www.w3.org/2005/Atom}"
ARXIV = "{http://arxiv.org/schemas/atom}"
OPENSEARCH = "{http://a9.com/-/spec/opensearch/1.1/}"
DC = "{http://purl.org/dc/elements/1.1/}"


def parse_xml(body: bytes, what: str) -> Element:
    try:
        return fromstring(body)
    except ParseError as exc:
        line, column = exc.position
        raise FeedError(f"{what}: malformed XML (line {line}, column {column})") from None
    except DefusedXmlException as exc:
        raise FeedError(f"{what}: refused XML with {type(exc).__name__}") from None


def text_of(parent: Element, tag: str) -> str:
    """The element's text (empty when absent); whitespace is normalized later."""
    child = parent.find(tag)
    return "".join(child.itertext()) if child is not None else ""
