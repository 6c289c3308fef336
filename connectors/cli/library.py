"""Commands that change or describe the library: ingest, delete, stats, paper, config."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from assistant.engine import Engine
from assistant.settings import load_settings
from assistant.sources import FORMATS
from connectors.cli.health import NoWaitOpt
from connectors.cli.render import iso_date, print_report
from connectors.cli.shared import JsonOpt, app, emit_json, err, handle_errors, out, progress_bar
from connectors.terminal_text import escape  # control characters never reach the terminal


@app.command()
@handle_errors
def ingest(
    paths: Annotated[list[Path], typer.Argument(metavar="PATH...", help="Files or folders of paper abstracts.")],
    fmt: Annotated[
        str | None,
        typer.Option("--format", metavar="FORMAT", help=f"Skip detection and read as: {', '.join(FORMATS)}."),
    ] = None,
    as_json: JsonOpt = False,
    no_wait: NoWaitOpt = False,
) -> None:
    """Add papers to the library. Re-running on unchanged files changes nothing."""
    engine = Engine(load_settings())
    with progress_bar("embedding papers", as_json) as (advance, set_total):
        report, seconds = engine.ingest(paths, fmt, advance, total=set_total, wait=not no_wait, notify=err.print)
    if as_json:
        emit_json(report.to_dict() | {"seconds": round(seconds, 3)})
    else:
        print_report(report, seconds)


@app.command()
@handle_errors
def stats(as_json: JsonOpt = False) -> None:
    """Papers and chunks in the library, by source and by year."""
    result = Engine(load_settings()).stats()
    if as_json:
        emit_json(result.to_dict())
        return
    out.print(f"{result.papers} papers, {result.chunks} chunks")
    for title, counts in (("source", result.by_source), ("year", result.by_year)):
        table = Table(title=f"by {title}", show_header=False)
        for key, count in counts.items():
            table.add_row(key, str(count))
        out.print(table)


@app.command()
@handle_errors
def paper(
    paper_id: Annotated[
        str, typer.Argument(metavar="ID", help="A paper id as search prints it, an arXiv id or a DOI.")
    ],
    as_json: JsonOpt = False,
) -> None:
    """Show one paper's full record."""
    record = Engine(load_settings()).paper(paper_id)
    if as_json:
        emit_json(record.to_dict())
        return
    out.print(f"[bold]{escape(record.title)}[/bold]")
    authors = ", ".join(record.authors) or (f"{record.author_count} authors" if record.author_count else "unknown")
    for label, value in (
        ("id", record.id),
        ("date", iso_date(record.date) or "unknown"),
        ("authors", authors),
        ("url", record.url or "none"),
        ("doi", record.doi or "none"),
        ("categories", ", ".join(record.categories) or "none"),
        ("sources", ", ".join(record.sources)),
    ):
        out.print(f"[dim]{label}:[/dim] {escape(value)}")
    out.print(f"\n{escape(record.abstract)}")


@app.command()
@handle_errors
def delete(
    paper_ids: Annotated[
        list[str], typer.Argument(metavar="ID...", help="Ids of the papers to remove, as search prints them.")
    ],
    as_json: JsonOpt = False,
    no_wait: NoWaitOpt = False,
) -> None:
    """Remove papers from the library (vectors, records and the keyword index)."""
    removed = Engine(load_settings()).delete(paper_ids, wait=not no_wait, notify=err.print)
    if as_json:
        emit_json({"deleted": [{"paper_id": p.id, "title": p.title} for p in removed]})
        return
    for record in removed:
        out.print(f"deleted {escape(record.title)} [dim]({escape(record.id)})[/dim]")


@app.command()
@handle_errors
def config(as_json: JsonOpt = False) -> None:
    """Print the effective settings (secrets masked) and where they come from."""
    view = load_settings().public_view()
    if as_json:
        emit_json(view)
        return
    out.print("[dim]Sources, strongest first: PAPERBOT_* environment, paperbot.toml, defaults.[/dim]")
    sources = view.pop("sources")
    for key, value in flatten(view):
        where = sources.get(key, "environment" if key in {"openai_api_key", "discord_token"} else "default")
        out.print(f"{key} = {escape(json.dumps(value))}  [dim]({escape(where)})[/dim]")


def flatten(data: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in data.items():
        if isinstance(value, dict):
            yield from flatten(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value
