"""DOIs and arXiv ids as reference managers write them, normalised so copies meet.

Zotero has written an arXiv preprint's id in many places over the years: `eprint`,
`journal = {arXiv:2007.12928 [cs]}`, `note = {arXiv: 2007.12928}`, `number`, the URL, the
`Extra` field, or an arXiv DOI (10.48550/arXiv.2303.12712). `find_arxiv` reads them all.
"""

from __future__ import annotations

import hashlib
import re

from assistant.sources.common import ARXIV_CORE, arxiv_id

_DOI = re.compile(r"^10\.\d{4,9}/\S+$")
_DOI_PREFIX = re.compile(r"^(?:https?://(?:dx\.)?doi\.org/|doi:\s*)", re.IGNORECASE)
_ARXIV_DOI = re.compile(r"^10\.48550/arxiv\.(.+)$", re.IGNORECASE)
# "arXiv:2007.12928", "arXiv: 2007.12928", "arXiv.2303.12712", "arXiv:hep-th/9901001v2"
_ARXIV_TEXT = re.compile(rf"arxiv[\s:.]*({ARXIV_CORE})", re.IGNORECASE)
_ARXIV_URL = re.compile(r"arxiv\.org/(?:abs|pdf)/([^\s?#]+?)(?:v\d+)?(?:\.pdf)?(?:[?#]|\s|$)", re.IGNORECASE)


def normal_doi(raw: str | None) -> str | None:
    """ "https://doi.org/10.1000/ABC" -> "10.1000/abc" (DOIs ignore case); None when not a DOI."""
    if not raw:
        return None
    text = _DOI_PREFIX.sub("", raw.strip()).strip().rstrip(".").casefold()
    return text if _DOI.match(text) else None


def arxiv_of_doi(doi: str | None) -> str | None:
    match = _ARXIV_DOI.match(doi or "")
    return arxiv_id(match.group(1)) if match else None


def find_arxiv(*texts: str | None) -> str | None:
    """The first arXiv id any of these strings names (plain id, "arXiv:" text, URL or DOI)."""
    for text in texts:
        if not text:
            continue
        found = arxiv_id(text) or arxiv_of_doi(normal_doi(text))
        for pattern in (_ARXIV_URL, _ARXIV_TEXT):
            if found:
                break
            match = pattern.search(text)
            found = arxiv_id(match.group(1)) if match else None
        if found:
            return found
    return None


def doi_paper_id(doi: str) -> str:
    """The id of a paper known by a DOI but no arXiv id: stable, and distinct from others
    with the same title (a title alone cannot tell two such papers apart)."""
    return "doi-" + hashlib.sha1(doi.encode()).hexdigest()[:12]


def lookup_kind(raw: str) -> tuple[str, str]:
    """What a user typed to name a paper: ("arxiv", id), ("doi", doi) or ("id", text)."""
    text = raw.strip()
    if found := find_arxiv(text):
        return "arxiv", found
    if doi := normal_doi(text):
        return "doi", doi
    return "id", text
