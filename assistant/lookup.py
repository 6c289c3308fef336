"""A paper by any name people know it by: its paperbot id, its arXiv id (with a version,
as a URL or as "arXiv:..."), or its DOI (bare, "doi:..." or a doi.org link)."""

from __future__ import annotations

from assistant.models import Paper
from assistant.sources.identifiers import lookup_kind
from assistant.store import ChromaStore


def find_paper(store: ChromaStore, identifier: str) -> Paper | None:
    text = identifier.strip()
    if not text:
        return None
    if found := store.get_papers([text]).get(text):
        return found
    kind, value = lookup_kind(text)
    if kind == "arxiv":
        return store.get_papers([value]).get(value)
    if kind == "doi":
        _, records = store.stored_matching([], [], [value])
        return records[min(records)] if records else None
    return None
