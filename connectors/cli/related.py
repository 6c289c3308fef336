"""`paperbot related ID`: the papers closest to one paper, with the terms they share."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from assistant.models import Paper
from assistant.related import RelatedPaper
from connectors.cli import shared as cli
from connectors.cli.render import iso_date, paper_line
from connectors.cli.shared import JsonOpt


def related_json(paper: Paper, found: list[RelatedPaper]) -> dict[str, object]:
    rows = [
        {
            "rank": rank,
            "paper_id": r.paper.id,
            "title": r.paper.title,
            "similarity": round(r.similarity, 4),
            "shared_terms": list(r.shared_terms),
            "date": iso_date(r.paper.date),
            "url": r.paper.url,
        }
        for rank, r in enumerate(found, start=1)
    ]
    return {"paper_id": paper.id, "title": paper.title, "related": rows}


def register(app: typer.Typer) -> None:

    @app.command()
    @cli.handle_errors
    def related(
        paper_id: Annotated[str, typer.Argument(metavar="ID", help="A paper id, arXiv id or DOI.")],
        k: Annotated[int, typer.Option("-k", "--k", metavar="N", min=1, max=50, help="How many papers to list.")] = 5,
        as_json: JsonOpt = False,
    ) -> None:
        """List the papers closest to one paper (itself excluded), with the terms they share."""
        paper, found = cli.open_engine(quiet=as_json, embeds=False).related(paper_id, k)
        if as_json:
            cli.emit_json(related_json(paper, found))
            return
        cli.out.print(f"[bold]Related to[/bold] {paper_line(paper)}")
        if not found:
            cli.out.print("[yellow]No other papers in the library.[/yellow]")
        for rank, item in enumerate(found, start=1):
            cli.out.print(f"{rank:>2}. [cyan]{item.similarity:.3f}[/cyan] {paper_line(item.paper)}")
            if item.shared_terms:
                cli.out.print(f"    [dim]shared: {escape(', '.join(item.shared_terms))}[/dim]")
