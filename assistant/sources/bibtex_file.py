"""BibTeX and BibLaTeX files (Zotero, Better BibTeX, JabRef...), read with bibtexparser 2.

LaTeX in values (accents, `{NeRF}` case protection, `\\%`) is decoded with the same rules
the exporter encodes with (assistant.bibtex), so an exported library reads back unchanged.
An entry bibtexparser cannot read is reported with its line; an entry with a duplicated
field (Zotero writes two `doi` fields at times) is kept, with one of the values.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bibtexparser
from bibtexparser import Library
from bibtexparser import middlewares as mw
from bibtexparser.model import Block, DuplicateBlockKeyBlock, DuplicateFieldKeyBlock, Entry, ParsingFailedBlock, String

from assistant.bibtex import latex_decoder
from assistant.sources.common import Record, read_text
from assistant.sources.references import Reference, iso_date, make_date, to_record

FORMAT = "bibtex"
SOURCE = "bibtex"
_ENTRY_START = re.compile(r"^\s*@\s*[A-Za-z]+\s*[{(]", re.MULTILINE)
_ARXIV_TYPES = {"", "arxiv"}
VERBATIM = {"url", "doi", "eprint"}
_HINT_FIELDS = ("journal", "journaltitle", "note", "number", "howpublished", "archiveprefix")


def looks_like(head: str) -> bool:
    """An entry start ("@article{") at the start of a line, before any CSV or JSON shape."""
    return bool(_ENTRY_START.search(head)) and not head.lstrip("\ufeff \t\r\n").startswith(("[", "{", '"'))


def records_bibtex(path: Path) -> Iterator[Record]:
    library = bibtexparser.parse_string(read_text(path), parse_stack=[])
    blocks: list[Block] = []
    for block in library.blocks:
        if isinstance(block, ParsingFailedBlock) and not _recoverable(block):
            yield f"{path.name}:{block.start_line or '?'}: unreadable BibTeX entry ({_first_line(block.raw)})"
        elif isinstance(block, Entry | String) or _recoverable(block):
            blocks.append(_recovered(block))
    library = _prepared(blocks)
    decoding = mw.LatexDecodingMiddleware(True, decoder=latex_decoder())
    for block in library.entries:
        # URLs, DOIs and ids are verbatim: "%20" in a URL is not a LaTeX comment
        verbatim = {field.key.casefold(): field.value for field in block.fields if field.key.casefold() in VERBATIM}
        decoded = decoding.transform_entry(block, library)
        if isinstance(decoded, Entry):
            yield to_record(reference(decoded, verbatim), SOURCE, path.name)
        else:
            yield f"{path.name}:{block.start_line or '?'}: {block.key}: LaTeX not decodable"


def _recoverable(block: Block) -> bool:
    return isinstance(block, DuplicateFieldKeyBlock | DuplicateBlockKeyBlock)


def _recovered(block: Block) -> Block:
    """A duplicated field keeps one value; a duplicated key is still its own entry."""
    if isinstance(block, DuplicateFieldKeyBlock | DuplicateBlockKeyBlock) and block.ignore_error_block:
        return block.ignore_error_block
    return block


def _first_line(raw: str | None) -> str:
    return (raw or "").strip().splitlines()[0][:60] if (raw or "").strip() else "empty"


def _prepared(blocks: list[Block]) -> Library:
    """@string macros resolved, outer braces or quotes removed, author lists split."""
    library = Library(blocks, fail_on_duplicate_key=False)
    for middleware in (
        mw.ResolveStringReferencesMiddleware(True),
        mw.RemoveEnclosingMiddleware(True),
        mw.SeparateCoAuthors(True),
        mw.SplitNameParts(True),
    ):
        library = middleware.transform(library)
    return library


def reference(entry: Entry, verbatim: dict[str, Any]) -> Reference:
    fields = {field.key.casefold(): field.value for field in entry.fields} | verbatim
    text = {key: value for key, value in fields.items() if isinstance(value, str)}
    eprint_type = (text.get("eprinttype") or text.get("archiveprefix") or "").strip().casefold()
    eprint = text.get("eprint", "") if eprint_type in _ARXIV_TYPES else ""
    return Reference(
        key=entry.key,
        title=text.get("title", ""),
        abstract=text.get("abstract", ""),
        authors=_names(fields.get("author")),
        published=iso_date(text.get("date")) or make_date(text.get("year"), text.get("month"), text.get("day")),
        doi=text.get("doi", ""),
        url=text.get("url", ""),
        keywords=tuple(re.split(r"\s*[,;]\s*", text.get("keywords", ""))),
        arxiv_hints=(eprint, *(text.get(name, "") for name in _HINT_FIELDS)),
        note=text.get("note", ""),
    )


def _names(value: Any) -> tuple[str, ...]:
    """NameParts from bibtexparser as "First von Last Jr", LaTeX decoded (the decoding
    middleware skips lists of names)."""
    if not isinstance(value, list):
        return ()
    decode = latex_decoder().latex_to_text
    names = []
    for name in value:
        if isinstance(name, mw.NameParts):
            parts = [*name.first, *name.von, *name.last, *name.jr]
            names.append(decode(" ".join(part for part in parts if part)).strip())
    return tuple(name for name in names if name)
