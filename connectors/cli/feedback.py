"""`paperbot feedback list|export|clear`, and chat's /good and /bad."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from assistant.conversation import Conversation
from assistant.engine import Engine
from assistant.errors import PaperbotError
from assistant.feedback import FeedbackLog, FeedbackRecord, Verdict, feedback_log
from assistant.models import Answer
from assistant.settings import Settings
from connectors.cli import shared as cli
from connectors.cli.shared import JsonOpt, out

# Chat answers already noted this session (by object: one answer, one record, however often rated).
_noted: dict[int, tuple[Answer, int]] = {}


# Module level: typer reads the annotations by name, so they cannot refer to the lazily imported cli.
AllOpt = Annotated[
    bool, typer.Option("--all-libraries", metavar="", help="Every library's feedback, not only this one's.")
]
OutputOpt = Annotated[
    Path | None, typer.Option("-o", "--output", metavar="FILE", help="Write the JSONL here; default stdout.")
]


def log_for(settings: Settings) -> FeedbackLog:
    return feedback_log(settings.home, settings.feedback.keep_days)


def chat_vote(verdict: Verdict, engine: Engine, conversation: Conversation) -> str:
    """Rates the last answer of the chat; returns what to tell the user. A second rating of
    the same answer replaces the first."""
    answer = conversation.last
    if answer is None:
        return "No answer to rate yet."
    if not engine.settings.feedback.enabled:
        return "Feedback is off (PAPERBOT_FEEDBACK_ENABLED=false): nothing recorded."
    log = log_for(engine.settings)
    noted = _noted.get(id(answer))
    if noted is None or noted[0] is not answer:
        noted = (answer, log.record_answer(answer, engine.settings.library, "chat"))
        _noted[id(answer)] = noted
    log.vote(noted[1], verdict, replace=True)
    return f"Recorded: {verdict} answer ({log.path}). `paperbot feedback list` shows the records."


def print_records(records: list[FeedbackRecord]) -> None:

    if not records:
        out.print("No feedback recorded.")
    for record in records:
        searched = f" [dim](searched for: {escape(record.standalone)})[/dim]" if record.standalone else ""
        out.print(
            f"[green]+{record.good}[/green] [red]-{record.bad}[/red] [dim]{record.last_vote} {record.channel} "
            f"{escape(record.engine)}[/dim] {escape(record.question)}{searched}"
        )
        for cited in record.cited:
            out.print(f"    [dim]{escape(cited.paper_id)}[/dim] {escape(cited.title)}")
        if record.refused:
            out.print("    [yellow](refused: no answer in the library)[/yellow]")


def write_questions(rows: list[dict[str, object]], output: Path | None) -> None:
    text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    if output is None:
        typer.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise PaperbotError(f"cannot write {output}: {exc.strerror}") from None


def list_feedback(
    bad: Annotated[bool, typer.Option("--bad", metavar="", help="Only answers someone voted bad.")] = False,
    all_libraries: AllOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Answers with votes, most recently voted first."""

    settings = cli.load_settings()
    records = log_for(settings).records(None if all_libraries else settings.library, bad_only=bad)
    if as_json:
        cli.emit_json({"library": settings.library, "records": [r.to_dict() for r in records]})
    else:
        print_records(records)


def export_feedback(output: OutputOpt = None, all_libraries: AllOpt = False) -> None:
    """Answers voted good as eval questions (JSONL that `paperbot eval` reads)."""

    settings = cli.load_settings()
    rows = log_for(settings).eval_questions(None if all_libraries else settings.library)
    if not rows:
        raise PaperbotError(f"no answers voted good yet in library {settings.library!r}")
    write_questions(rows, output)
    if output is not None:
        cli.err.print(f"wrote {len(rows)} eval questions to {output}")


def clear_feedback(
    all_libraries: AllOpt = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", metavar="", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete the recorded feedback and the bot's notes of its answers."""

    settings = cli.load_settings()
    which = "every library" if all_libraries else f"library {settings.library!r}"
    if not yes and not typer.confirm(f"Delete all feedback of {which}?"):
        raise PaperbotError("not confirmed: nothing deleted")
    count = log_for(settings).clear(None if all_libraries else settings.library)
    cli.out.print(f"deleted {count} answers and their votes ({which})")


def register(app: typer.Typer) -> None:

    group = typer.Typer(help="Feedback on answers (👍/👎 in Discord, /good /bad in chat), turned into eval questions.")
    app.add_typer(group, name="feedback")
    group.command("list")(cli.handle_errors(list_feedback))
    group.command("export")(cli.handle_errors(export_feedback))
    group.command("clear")(cli.handle_errors(clear_feedback))
