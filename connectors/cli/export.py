"""`paperbot export`: papers back into a reference manager (BibTeX, RIS or CSL-JSON)."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from assistant.engine import Engine
from assistant.errors import PaperbotError
from assistant.settings import load_settings
from connectors.cli.shared import err, handle_errors


class ExportFormat(StrEnum):
    bibtex = "bibtex"
    ris = "ris"
    csljson = "csljson"


def write_output(text: str, output: str | None) -> None:
    """To stdout for no -o or "-o -"; else to the file, written whole or not at all."""
    if output in (None, "-"):
        sys.stdout.write(text)
        return
    path = Path(output)
    partial = path.with_name(f".{path.name}.partial")
    try:
        partial.write_text(text, encoding="utf-8")
        partial.replace(path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise PaperbotError(f"cannot write {path}: {exc.strerror or exc}") from None


def export(
    fmt: Annotated[
        ExportFormat, typer.Option("--format", "-f", metavar="FORMAT", help="bibtex, ris or csljson.")
    ] = ExportFormat.bibtex,
    query: Annotated[
        str | None, typer.Option("--query", "-q", metavar="QUERY", help="Export the papers a search finds.")
    ] = None,
    ids: Annotated[
        list[str] | None,
        typer.Option("--ids", metavar="ID", help="Export these papers (paper id, arXiv id or DOI); repeatable."),
    ] = None,
    k: Annotated[int, typer.Option("-k", metavar="N", min=1, max=500, help="How many papers --query exports.")] = 20,
    output: Annotated[
        str | None, typer.Option("-o", "--output", metavar="FILE", help="File to write; '-' or none: stdout.")
    ] = None,
) -> None:
    """Write papers as BibTeX, RIS or CSL-JSON for Zotero, Mendeley or EndNote. Default: the whole library."""
    if query and ids:
        raise PaperbotError("give --query or --ids, not both")
    text, count = Engine(load_settings()).export(fmt.value, query, ids or (), k)
    if count == 0:
        raise PaperbotError("no papers to export" + (f" for {query!r}" if query else ": the library is empty"))
    write_output(text, output)
    if output not in (None, "-"):
        err.print(f"wrote {count} papers to {output}")


def register(app: typer.Typer) -> None:

    app.command(name="export")(handle_errors(export))
