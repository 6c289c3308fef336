"""`paperbot eval FILE`: retrieval and answer figures for a questions file, or summary figures
for a topics file. The kind is read from the first line's key: "question" or "topic".
The command itself stays in connectors/cli.py (a few lines); the work and the tables are here."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from assistant.engine import Engine
from assistant.errors import PaperbotError
from assistant.evaluation import EvalQuestion, load_eval_file
from assistant.settings import load_settings
from connectors.cli.shared import JsonOpt, ModeOpt, emit_json, handle_errors, out, progress_bar

RETRIEVAL = (
    "recall@5",
    "recall@10",
    "multi_paper_recall@10",
    "mrr",
    "ndcg@10",
    "refusal_accuracy",
    "search_latency_median_ms",
)
ANSWERS = (
    "cites_relevant",
    "citation_precision",
    "citations_per_answer",
    "multi_paper_coverage",
    "unsupported_sentences",
    "uncited_sentences",
    "invented_citations",
    "refused_answerable",
    "answered_unanswerable",
    "latency_median_ms",
    "latency_p90_ms",
)
TOPICS = (
    "inclusion_precision",
    "inclusion_recall",
    "papers_per_summary",
    "themes_per_summary",
    "max_themes",
    "not_written",
    "latency_median_ms",
)
FILE_HELP = (
    'JSONL. Questions: {"question": ..., "relevant_titles": [...]} ([] = must refuse); '
    'topics: {"topic": ..., "relevant_titles": [...]} (evaluated through summarize).'
)


def run_eval(
    file: Path, mode: str | None, advance: Callable[[int], None], set_total: Callable[[int], None]
) -> dict[str, Any]:
    """The report for a questions or topics file on the configured library."""
    kind, rows = load_eval_file(file)
    engine = Engine(load_settings())
    if not engine.store.counts()[0]:
        raise PaperbotError("the library is empty: run `paperbot ingest PATH` first")
    set_total(len(rows))
    if kind == "topic":
        return engine.evaluate_topics(rows, advance).to_dict()
    questions = [EvalQuestion(text, titles) for text, titles in rows]
    return {"kind": "questions"} | engine.evaluate(questions, mode, advance).to_dict()


def print_eval(report: dict[str, Any], out: Console) -> None:
    if report["kind"] == "topics":
        print_topics(report, out)
    else:
        print_questions(report, out)


def print_questions(report: dict[str, Any], out: Console) -> None:
    answers = report["answers"]
    title = f"{report['questions']} questions, mode {report['mode']}, answers by {', '.join(answers['engines'])}"
    table = Table("metric", "value", title=title)
    for metric in RETRIEVAL:
        table.add_row(metric, str(report[metric]))
    for metric in ANSWERS:
        table.add_row(f"answers: {metric}", str(answers[metric]))
    out.print(table)
    for missing in report["missing_from_library"]:
        out.print(f"[yellow]not in the library:[/yellow] {escape(missing)}")
    for miss in report["misses"]:
        what = "refused" if miss["refused"] else "answered" if miss["should_refuse"] else "missed"
        detail = "; ".join(miss["missed"]) if what == "missed" else ""
        out.print(f"[red]{what}:[/red] {escape(miss['question'])} [dim]{escape(detail)}[/dim]")
    for miss in answers["misses"]:
        detail = "; ".join(miss["uncited_relevant"])
        out.print(f"[red]not cited:[/red] {escape(miss['question'])} [dim]{escape(detail)}[/dim]")


def print_topics(report: dict[str, Any], out: Console) -> None:
    table = Table("metric", "value", title=f"{report['topics']} topics, summaries by {', '.join(report['engines'])}")
    for metric in TOPICS:
        table.add_row(metric, str(report[metric]))
    out.print(table)
    for missing in report["missing_from_library"]:
        out.print(f"[yellow]not in the library:[/yellow] {escape(missing)}")
    for topic in report["per_topic"]:
        line = f"P={topic['precision']} R={topic['recall']} themes: {'; '.join(topic['themes'])}"
        out.print(f"{escape(topic['topic'])} [dim]{escape(line)}[/dim]")
        for title in topic["missed"]:
            out.print(f"  [red]missed:[/red] {escape(title)}")
        for title in topic["off_topic"]:
            out.print(f"  [yellow]off topic:[/yellow] {escape(title)}")


def register(app: typer.Typer) -> None:
    app.command(name="eval")(handle_errors(evaluate))


def evaluate(
    file: Annotated[Path, typer.Argument(metavar="FILE", help=FILE_HELP)],
    mode: ModeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Measure the current library: retrieval and answers for questions, summaries for topics."""
    with progress_bar("evaluating", as_json) as (advance, set_total):
        report = run_eval(file, mode and mode.value, advance, set_total)
    if as_json:
        emit_json(report)
    else:
        print_eval(report, out)
