"""The `paperbot` command: a thin adapter that parses input, calls the engine, renders output."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import click
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from assistant.bibtex import bibliography
from assistant.conversation import Conversation
from assistant.engine import Engine, checked_question
from assistant.errors import PaperbotError
from assistant.ingest import IngestReport
from assistant.models import Answer, Filters, Paper, ScoredPaper
from assistant.settings import load_settings
from assistant.sources import FORMATS
from assistant.summary import Summary, markdown
from connectors.cli_eval import FILE_HELP, print_eval, run_eval
from connectors.common import make_filters

app = typer.Typer(
    help="paperbot: ask questions about a library of paper abstracts and get answers citing the papers.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)
F = TypeVar("F", bound=Callable[..., Any])

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object for scripts instead of text.")]
SinceOpt = Annotated[str | None, typer.Option("--since", help="Only papers dated on or after YYYY-MM-DD.")]
UntilOpt = Annotated[str | None, typer.Option("--until", help="Only papers dated on or before YYYY-MM-DD.")]
SourceOpt = Annotated[
    str | None, typer.Option("--source", help="Only papers from one source: daily-papers, arxiv-oai, csv, jsonl.")
]


class Mode(StrEnum):
    hybrid = "hybrid"
    dense = "dense"
    bm25 = "bm25"


ModeOpt = Annotated[
    Mode | None,
    typer.Option(help="Retrieval: hybrid (dense + BM25), or one side alone. Default: PAPERBOT_RETRIEVAL_MODE, hybrid."),
]


def handle_errors(command: F) -> F:
    """A PaperbotError becomes one line on stderr and exit code 1, never a traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except PaperbotError as exc:
            err.print(f"[red]error:[/red] {escape(str(exc))}")
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            err.print("interrupted")
            raise typer.Exit(130) from None
        except (click.exceptions.ClickException, click.exceptions.Exit):
            raise
        except Exception as exc:
            # A bug or a broken part, not bad input: still one line, the traceback on request.
            if os.environ.get("PAPERBOT_DEBUG"):
                raise
            err.print(
                f"[red]error:[/red] unexpected {type(exc).__name__}: {escape(str(exc))} (PAPERBOT_DEBUG=1 shows more)"
            )
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


class LazyBar:
    """A progress bar on stderr that appears only once there is work to show."""

    def __init__(self, label: str, quiet: bool) -> None:
        columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        self.bar = Progress(*columns, console=err, disable=quiet)
        self.task: TaskID | None = None

    def set_total(self, total: int) -> None:
        """Ingest streams big files, so the total can grow as more of them is read."""
        if total > 0 and self.task is None:
            self.bar.start()
            self.task = self.bar.add_task("", total=total)
        elif self.task is not None:
            self.bar.update(self.task, total=total)

    def advance(self, count: int) -> None:
        if self.task is not None:
            self.bar.advance(self.task, count)


@contextmanager
def progress_bar(label: str, quiet: bool) -> Iterator[tuple[Callable[[int], None], Callable[[int], None]]]:
    """(advance, set_total) callbacks for the engine."""
    lazy = LazyBar(label, quiet)
    try:
        yield lazy.advance, lazy.set_total
    finally:
        if lazy.task is not None:
            lazy.bar.stop()


def open_engine(*, quiet: bool = False) -> Engine:
    """The engine, with the sample library ingested on first use of an empty library."""
    engine = Engine(load_settings())
    if engine.needs_sample():
        err.print("The library is empty: ingesting the bundled sample library (Daily Papers) first.")
        with progress_bar("embedding papers", quiet) as (advance, set_total):
            engine.ingest_sample(advance, total=set_total)
    return engine


def emit_json(data: object) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")


# ---- rendering -----------------------------------------------------------------


def paper_line(paper: Paper) -> str:
    when = paper.date.isoformat() if paper.date else "undated"
    link = f" {paper.url}" if paper.url else ""
    return f"{escape(paper.title)} [dim]({when}, {paper.id}){escape(link)}[/dim]"


def answer_json(answer: Answer) -> dict[str, object]:
    return {
        "question": answer.question,
        "answer": answer.text,
        "refused": answer.refused,
        "engine": answer.engine,
        "citations": [
            {"n": c.n, "paper_id": c.paper.id, "title": c.paper.title, "url": c.paper.url, "date": _iso(c.paper.date)}
            for c in answer.citations
        ],
        "retrieved": [
            {"paper_id": s.paper.id, "score": round(s.score, 4), "similarity": round(s.similarity, 4)}
            for s in answer.sources
        ],
        "unsupported": list(answer.unsupported),
        "unsupported_count": len(answer.unsupported),
        "notice": answer.notice,
        "standalone_question": answer.standalone,
    }


def search_json(query: str, results: list[ScoredPaper]) -> dict[str, object]:
    rows = [
        {
            "rank": rank,
            "paper_id": r.paper.id,
            "title": r.paper.title,
            "score": round(r.score, 4),
            "similarity": round(r.similarity, 4),
            "date": _iso(r.paper.date),
            "url": r.paper.url,
        }
        for rank, r in enumerate(results, start=1)
    ]
    return {"query": query, "results": rows}


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


class TokenPrinter:
    """Shows a generated answer as it streams; remembers whether it showed anything."""

    def __init__(self) -> None:
        self.shown = False

    def __call__(self, piece: str) -> None:
        if piece:
            out.print(piece, end="", markup=False)
            self.shown = True


def print_answer(answer: Answer, printer: TokenPrinter | None = None) -> None:
    streamed = printer is not None and printer.shown
    if streamed:
        out.print()  # end the streamed line
    if answer.notice:
        err.print(f"[yellow]{escape(answer.notice)}[/yellow]")
    if answer.refused:
        out.print(f"[yellow]{escape(answer.text)}[/yellow]")
        return
    if not (streamed and answer.notice is None):  # a fallback replaces what had streamed
        out.print(escape(answer.text))
    out.print("\n[bold]Sources[/bold]")
    for citation in answer.citations:
        out.print(f"  [{citation.n}] {paper_line(citation.paper)}")
    for sentence in answer.unsupported:
        out.print(f"[yellow]unsupported by its cited source:[/yellow] {escape(sentence)}")


def print_results(results: list[ScoredPaper]) -> None:
    if not results:
        out.print("[yellow]No papers match.[/yellow]")
    for rank, result in enumerate(results, start=1):
        out.print(f"{rank:>2}. [cyan]{result.score:.3f}[/cyan] {paper_line(result.paper)}")


def print_report(report: IngestReport, seconds: float) -> None:
    out.print(
        f"{report.added} added, {report.updated} updated, {report.unchanged} unchanged, "
        f"{report.skipped_count} skipped ({report.files} files, {seconds:.1f}s)"
    )
    for reason in report.skipped[:20]:
        out.print(f"  [dim]skipped: {escape(reason)}[/dim]")
    if report.skipped_count > 20:
        out.print(f"  [dim]... and {report.skipped_count - 20} more (see --json)[/dim]")


# ---- commands ------------------------------------------------------------------


@app.command()
@handle_errors
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders of paper abstracts.")],
    fmt: Annotated[
        str | None, typer.Option("--format", help=f"Skip detection and read as: {', '.join(FORMATS)}.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Add papers to the library. Re-running on unchanged files changes nothing."""
    engine = Engine(load_settings())
    with progress_bar("embedding papers", as_json) as (advance, set_total):
        report, seconds = engine.ingest(paths, fmt, advance, total=set_total)
    if as_json:
        emit_json(report.to_dict() | {"seconds": round(seconds, 3)})
    else:
        print_report(report, seconds)


@app.command()
@handle_errors
def ask(
    question: Annotated[str, typer.Argument(help="A question about the library.")],
    since: SinceOpt = None,
    until: UntilOpt = None,
    source: SourceOpt = None,
    mode: ModeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Answer a question with numbered citations to the papers it used."""
    filters = make_filters(since, until, source)
    question = checked_question(question)  # before a first-use ingest, not after
    printer = None if as_json else TokenPrinter()  # --json waits for the whole answer
    answer = open_engine(quiet=as_json).ask(question, filters, mode and mode.value, on_token=printer)
    if as_json:
        emit_json(answer_json(answer))
    else:
        print_answer(answer, printer)


@app.command()
@handle_errors
def search(
    query: Annotated[str, typer.Argument(help="What to look for.")],
    k: Annotated[int | None, typer.Option("-k", "--k", min=1, max=100, help="How many papers to list.")] = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    source: SourceOpt = None,
    mode: ModeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List the papers that best match a query, best first."""
    filters = make_filters(since, until, source)
    query = checked_question(query)
    results = open_engine(quiet=as_json).search(query, k, filters, mode and mode.value)
    if as_json:
        emit_json(search_json(query, results))
    else:
        print_results(results)


CHAT_HELP = """Type a question and press Enter. Commands:
  /sources  the papers retrieved for the last answer, with scores
  /reset    forget the conversation so far
  /help     this text
  Ctrl-D or /quit to leave"""


@app.command()
@handle_errors
def chat(since: SinceOpt = None, until: UntilOpt = None, source: SourceOpt = None) -> None:
    """Ask questions one after another in an interactive session (/help inside)."""
    filters = make_filters(since, until, source)
    engine = open_engine()
    with contextlib.suppress(ImportError):
        import readline  # noqa: F401  (line editing and history for input())
    out.print("paperbot chat. /help for commands, Ctrl-D to leave.")
    conversation = Conversation()
    while (line := read_line()) is not None:
        if not chat_turn(line, engine, conversation, filters):
            break


def read_line() -> str | None:
    try:
        return input("\n? ").strip()
    except EOFError:
        return None


def chat_turn(line: str, engine: Engine, conversation: Conversation, filters: Filters) -> bool:
    """Handle one line of chat; False ends the session. Errors end the turn, not the session."""
    command = line.casefold()
    if command in {"/quit", "/exit"}:
        return False
    if command == "/help":
        out.print(CHAT_HELP)
    elif command == "/reset":
        conversation.reset()
        out.print("Conversation cleared.")
    elif command == "/sources":
        print_sources(conversation)
    elif command.startswith("/"):
        out.print(f"Unknown command {escape(line)}; /help lists them.")
    elif line:
        printer = TokenPrinter()
        try:
            answer = engine.ask(line, filters, history=conversation.turns, on_token=printer)
        except PaperbotError as exc:
            err.print(f"[red]error:[/red] {escape(str(exc))}")
            return True
        conversation.add(answer)
        print_answer(answer, printer)
        if answer.standalone:
            out.print(f"[dim](searched for: {escape(answer.standalone)})[/dim]")
    return True


def print_sources(conversation: Conversation) -> None:
    if conversation.last is None:
        out.print("No question asked yet.")
        return
    print_results(list(conversation.last.sources))


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
    paper_id: Annotated[str, typer.Argument(help="A paper id as search prints it.")], as_json: JsonOpt = False
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
        ("date", _iso(record.date) or "unknown"),
        ("authors", authors),
        ("url", record.url or "none"),
        ("categories", ", ".join(record.categories) or "none"),
        ("sources", ", ".join(record.sources)),
    ):
        out.print(f"[dim]{label}:[/dim] {escape(value)}")
    out.print(f"\n{escape(record.abstract)}")


@app.command()
@handle_errors
def delete(
    paper_ids: Annotated[list[str], typer.Argument(help="Ids of the papers to remove, as search prints them.")],
    as_json: JsonOpt = False,
) -> None:
    """Remove papers from the library (vectors, records and the keyword index)."""
    removed = Engine(load_settings()).delete(paper_ids)
    if as_json:
        emit_json({"deleted": [{"paper_id": p.id, "title": p.title} for p in removed]})
        return
    for record in removed:
        out.print(f"deleted {escape(record.title)} [dim]({record.id})[/dim]")


@app.command(name="eval")
@handle_errors
def evaluate(
    file: Annotated[Path, typer.Argument(help=FILE_HELP)], mode: ModeOpt = None, as_json: JsonOpt = False
) -> None:
    """Measure the current library: retrieval and answers for questions, summaries for topics."""
    with progress_bar("evaluating", as_json) as (advance, set_total):
        report = run_eval(file, mode and mode.value, advance, set_total)
    if as_json:
        emit_json(report)
    else:
        print_eval(report, out)


@app.command()
@handle_errors
def summarize(
    topic: Annotated[str, typer.Argument(help='The topic to review, e.g. "length generalization in transformers".')],
    papers: Annotated[int, typer.Option("-n", "--papers", min=3, max=50, help="At most this many papers.")] = 12,
    since: SinceOpt = None,
    until: UntilOpt = None,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Write the Markdown here.")] = None,
    bib: Annotated[Path | None, typer.Option("--bib", help="Write the references as BibTeX here.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Write a cited literature summary: themes, findings, open questions, references.

    With too few relevant papers it prints "Not enough papers", writes no file, and exits 0."""
    filters = make_filters(since, until, None)
    topic = checked_question(topic)
    summary = open_engine(quiet=as_json).summarize(topic, papers, filters)
    text = markdown(summary)
    if summary.enough:
        write_outputs(summary, text, output, bib)
    written = [str(path) for path in (output, bib) if path is not None and summary.enough]
    if as_json:
        emit_json(summary.to_dict() | {"markdown": text, "written": written})
    elif not summary.enough or output is None:
        out.print(escape(text), end="")
    else:
        out.print(f"wrote {', '.join(written)}: {len(summary.references)} papers in {len(summary.themes)} themes")


def write_outputs(summary: Summary, text: str, output: Path | None, bib: Path | None) -> None:
    try:
        if output is not None:
            output.write_text(text, encoding="utf-8")
        if bib is not None:
            bib.write_text(bibliography([r.paper for r in summary.references]), encoding="utf-8")
    except OSError as exc:
        raise PaperbotError(f"cannot write {exc.filename}: {exc.strerror}") from None


@app.command()
@handle_errors
def discord() -> None:
    """Run the Discord bot (token from DISCORD_TOKEN or PAPERBOT_DISCORD_TOKEN)."""
    settings = load_settings()
    token = settings.discord_token()
    if not token:
        raise PaperbotError("set DISCORD_TOKEN (or PAPERBOT_DISCORD_TOKEN) to the bot's token; see the README")
    from connectors.discord_bot import run_bot  # discord.py loads only for the bot

    run_bot(settings, token)


@app.command()
@handle_errors
def health(as_json: JsonOpt = False) -> None:
    """Exit 0 when the settings load and the library (embedded or Chroma server) answers."""
    settings = load_settings()
    papers, chunks = Engine(settings).store.counts()
    status = {"ok": True, "papers": papers, "chunks": chunks, "chroma": settings.chroma.url or "embedded"}
    if as_json:
        emit_json(status)
    else:
        out.print(f"ok: {papers} papers, {chunks} chunks ({status['chroma']})")


@app.command()
@handle_errors
def config(as_json: JsonOpt = False) -> None:
    """Print the effective settings (secrets masked) and where they come from."""
    view = load_settings().public_view()
    if as_json:
        emit_json(view)
        return
    out.print("[dim]Sources, strongest first: PAPERBOT_* environment, paperbot.toml, defaults.[/dim]")
    for key, value in flatten(view):
        out.print(f"{key} = {escape(json.dumps(value))}")


def flatten(data: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in data.items():
        if isinstance(value, dict):
            yield from flatten(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def main() -> None:
    app()


if __name__ == "__main__":
    main()
