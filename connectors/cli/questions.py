"""Commands that answer: ask, search, summarize."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from assistant.bibtex import bibliography
from assistant.engine import checked_question
from assistant.errors import PaperbotError
from assistant.summary import markdown
from connectors.cli.render import TokenPrinter, answer_json, print_answer, print_results, search_json
from connectors.cli.shared import (
    JsonOpt,
    KOpt,
    ModeOpt,
    SinceOpt,
    SourceOpt,
    UntilOpt,
    app,
    emit_json,
    err,
    handle_errors,
    note_undated,
    open_engine,
    out,
    read_stdin,
)
from connectors.common import make_filters
from connectors.outputs import STDOUT, Output, check_outputs, write_outputs
from connectors.terminal_text import escape  # control characters never reach the terminal


@app.command()
@handle_errors
def ask(
    question: Annotated[str, typer.Argument(metavar="QUESTION", help="A question about the library; - reads stdin.")],
    k: KOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    source: SourceOpt = None,
    mode: ModeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Answer a question with numbered citations to the papers it used."""
    filters = make_filters(since, until, source)
    question = checked_question(read_stdin() if question == "-" else question)  # before a first-use ingest
    printer = None if as_json else TokenPrinter()  # --json waits for the whole answer
    engine = open_engine(quiet=as_json)
    note_undated(engine, filters)
    answer = engine.ask(question, filters, mode and mode.value, on_token=printer, k=k)
    if as_json:
        emit_json(answer_json(answer))
    else:
        print_answer(answer, printer)


@app.command()
@handle_errors
def search(
    query: Annotated[str, typer.Argument(metavar="QUERY", help="What to look for.")],
    k: Annotated[
        int | None, typer.Option("-k", "--k", metavar="N", min=1, max=100, help="How many papers to list.")
    ] = None,
    mode: ModeOpt = None,  # first: comparing the rankers is what search is often for
    since: SinceOpt = None,
    until: UntilOpt = None,
    source: SourceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List the papers that best match a query, best first, with their similarity to it."""
    filters = make_filters(since, until, source)
    query = checked_question(query)
    engine = open_engine(quiet=as_json)
    note_undated(engine, filters)
    results = engine.search(query, k, filters, mode and mode.value)
    if as_json:
        emit_json(search_json(query, results))
    else:
        print_results(results)


@app.command()
@handle_errors
def summarize(
    topic: Annotated[
        str, typer.Argument(metavar="TOPIC", help='The topic to review, e.g. "length generalization in transformers".')
    ],
    papers: Annotated[
        int, typer.Option("-n", "--papers", metavar="N", min=3, max=50, help="At most this many papers.")
    ] = 12,
    since: SinceOpt = None,
    until: UntilOpt = None,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", metavar="FILE", help="Write the Markdown here; - = stdout.")
    ] = None,
    bib: Annotated[
        Path | None, typer.Option("--bib", metavar="FILE", help="Write the references as BibTeX here; - = stdout.")
    ] = None,
    force: Annotated[bool, typer.Option("--force", metavar="", help="Overwrite files that -o or --bib name.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Write a cited literature summary: themes, findings, open questions, references.

    With too few relevant papers it prints "Not enough papers", writes no file, and exits 0."""
    filters = make_filters(since, until, None)
    topic = checked_question(topic)
    check_summary_outputs(output, bib, force, as_json)
    summary = open_engine(quiet=as_json).summarize(topic, papers, filters)
    text = markdown(summary)
    outputs = summary_outputs(output, bib, text, bibliography([r.paper for r in summary.references]))
    if summary.enough:
        write_outputs(outputs, force)
    written = [str(o.path) for o in outputs if o.path != STDOUT and summary.enough]
    if as_json:
        emit_json(summary.to_dict() | {"markdown": text, "written": written})
    elif not summary.enough or output is None:
        out.print(escape(text.rstrip("\n")))  # always ends the line, so a prompt starts on its own
    elif written:  # on stderr when stdout carries a file's text
        (err if any(o.path == STDOUT for o in outputs) else out).print(
            f"wrote {', '.join(written)}: {len(summary.references)} papers in {len(summary.themes)} themes"
        )


def check_summary_outputs(output: Path | None, bib: Path | None, force: bool, as_json: bool) -> None:
    """Before the work (and again before writing): no clobbering, and one thing on stdout."""
    wanted = summary_outputs(output, bib, "", "")
    check_outputs(wanted, force)
    if as_json and any(o.path == STDOUT for o in wanted):
        raise PaperbotError("--json prints to standard output already; give -o and --bib file names")


def summary_outputs(output: Path | None, bib: Path | None, text: str, bibtex: str) -> list[Output]:
    pairs = (("-o", output, text), ("--bib", bib, bibtex))
    return [Output(option, path, content) for option, path, content in pairs if path is not None]
