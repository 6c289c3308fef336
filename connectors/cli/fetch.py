"""`paperbot fetch`: bring in today's papers from Hugging Face Daily Papers and arXiv."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from assistant.engine import Engine
from assistant.errors import PaperbotError
from assistant.feeds.fetch import FeedRequest, FetchResult, arxiv_category, arxiv_query, daily_papers, fetch_feed
from assistant.settings import load_settings
from connectors.cli.shared import JsonOpt, emit_json, handle_errors, out
from connectors.common import parse_day

fetch_app = typer.Typer(
    help="Add new papers from paper feeds; only new or changed papers are embedded.", no_args_is_help=True
)
LimitOpt = Annotated[
    int | None,
    typer.Option(
        "--max", metavar="N", min=1, max=5000, help="Most papers read from the arXiv API (default: feeds.max_results)."
    ),
]


def register(app: typer.Typer) -> None:
    app.add_typer(fetch_app, name="fetch")


@fetch_app.command("daily-papers")
@handle_errors
def daily(
    day: Annotated[
        str | None, typer.Option("--date", metavar="YYYY-MM-DD", help="That day's list, YYYY-MM-DD (default: latest).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Hugging Face's daily papers (arXiv papers picked by the community)."""
    run(daily_papers(parse_day(day, "--date")), as_json)


@fetch_app.command("arxiv")
@handle_errors
def arxiv(
    category: Annotated[
        str | None, typer.Option("--category", metavar="CATEGORY", help="An arXiv category, e.g. cs.CL.")
    ] = None,
    query: Annotated[
        str | None, typer.Option("--query", metavar="QUERY", help='An arXiv API query, e.g. "ti:retrieval".')
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since", metavar="YYYY-MM-DD", help="With --category: papers submitted since YYYY-MM-DD (arXiv API)."
        ),
    ] = None,
    limit: LimitOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Today's listing of a category (RSS), a category since a date, or an API query, newest first."""
    if (category is None) == (query is None):
        raise PaperbotError("give either --category (e.g. cs.CL) or --query")
    if query is not None:
        if since is not None:
            raise PaperbotError("--since goes with --category; put dates into the query (submittedDate:[...])")
        run(arxiv_query(query, limit), as_json)
    else:
        run(arxiv_category(category or "", parse_day(since, "--since"), limit), as_json)


def run(request: FeedRequest, as_json: bool) -> None:

    result = fetch_feed(Engine(load_settings()), request)
    if as_json:
        emit_json(result.to_dict())
    else:
        print_result(result)


def print_result(result: FetchResult) -> None:

    report = result.report
    out.print(
        f"{escape(result.feed)}: {len(result.items)} papers fetched; {report.added} added, {report.updated} updated, "
        f"{report.unchanged} unchanged, {len(result.skipped)} skipped ({result.seconds:.1f}s)",
        emoji=False,  # a query such as "cat:cs.AI" holds ":cat:"
    )
    for reason in result.skipped[:10]:
        out.print(f"  [dim]skipped: {escape(reason)}[/dim]", emoji=False)
