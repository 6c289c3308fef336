"""The reference-manager formats (BibTeX, RIS, Zotero CSV, CSL-JSON): their readers, file
extensions, and detection by content, so `library.txt` holding BibTeX is read as BibTeX."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from assistant.sources import bibtex_file, csl_json, ris_file, zotero_csv
from assistant.sources.common import Record

READERS: dict[str, Callable[[Path], Iterator[Record]]] = {
    bibtex_file.FORMAT: bibtex_file.records_bibtex,
    ris_file.FORMAT: ris_file.records_ris,
    zotero_csv.FORMAT: zotero_csv.records_zotero_csv,
    csl_json.FORMAT: csl_json.records_csl_json,
}
# Sources whose records the user edits in a reference manager: a re-import replaces them.
EDITABLE_SOURCES = {bibtex_file.SOURCE, ris_file.SOURCE, zotero_csv.SOURCE, csl_json.SOURCE}
EXTENSIONS = {".bib", ".bibtex", ".biblatex", ".ris", ".json", ".csv"}

# Most specific first: a Zotero CSV header is also a CSV, a CSL-JSON array also JSON.
_SNIFFERS = (
    (zotero_csv.FORMAT, zotero_csv.looks_like),
    (csl_json.FORMAT, csl_json.looks_like),
    (ris_file.FORMAT, ris_file.looks_like),
    (bibtex_file.FORMAT, bibtex_file.looks_like),
)


def sniff(head: str) -> str | None:
    """The reference format the start of a file is in, or None for the other formats."""
    return next((fmt for fmt, looks_like in _SNIFFERS if looks_like(head)), None)
