"""The command line's shared parts: the typer app, consoles, options, one-line errors, progress."""

from __future__ import annotations

import functools
import json
import os
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from importlib.metadata import version
from pathlib import Path
from typing import Annotated, Any, TypeVar

import click
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from assistant.engine import MAX_QUESTION_CHARS, Engine
from assistant.errors import PaperbotError
from assistant.models import Filters
from assistant.settings import load_settings
from assistant.sources import FORMATS
from connectors.terminal_text import escape  # control characters never reach the terminal

app = typer.Typer(
    help="paperbot: ask questions about a library of paper abstracts and get answers citing the papers.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)
F = TypeVar("F", bound=Callable[..., Any])

JsonOpt = Annotated[bool, typer.Option("--json", metavar="", help="Print one JSON object for scripts instead of text.")]
SinceOpt = Annotated[
    str | None,
    typer.Option("--since", metavar="YYYY-MM-DD", help="Only papers dated on or after this day."),
]
UntilOpt = Annotated[
    str | None,
    typer.Option("--until", metavar="YYYY-MM-DD", help="Only papers dated on or before this day."),
]
SourceOpt = Annotated[
    str | None,
    typer.Option("--source", metavar="FORMAT", help=f"Only papers read from one input format: {', '.join(FORMATS)}."),
]
KOpt = Annotated[int | None, typer.Option("-k", "--k", metavar="N", min=1, max=100, help="How many papers to use.")]


class Mode(StrEnum):
    hybrid = "hybrid"
    dense = "dense"
    bm25 = "bm25"


ModeOpt = Annotated[
    Mode | None,
    typer.Option(
        metavar="MODE", help="Retrieval: hybrid, dense or bm25 (one side alone). Default: PAPERBOT_RETRIEVAL_MODE."
    ),
]


def show_version(value: bool) -> None:
    if value:
        out.print(f"paperbot {version('paperbot')}")
        raise typer.Exit()


@app.callback()
def global_options(
    ctx: typer.Context,
    _version: Annotated[
        bool,
        typer.Option("--version", metavar="", is_eager=True, callback=show_version, help="Print the version and exit."),
    ] = False,
    home: Annotated[
        Path | None,
        typer.Option("--home", metavar="DIR", help="The library folder (default: PAPERBOT_HOME)."),
    ] = None,
    library: Annotated[
        str | None,
        typer.Option("--library", metavar="NAME", help="A named library in the home (default: PAPERBOT_LIBRARY)."),
    ] = None,
) -> None:
    """paperbot: ask questions about a library of paper abstracts and get answers citing the papers."""
    # Through the environment, so every command module's settings see them, for this command only.
    for name, value in (("PAPERBOT_HOME", home), ("PAPERBOT_LIBRARY", library)):
        if value is not None:
            ctx.call_on_close(functools.partial(restore_env, name, os.environ.get(name)))
            os.environ[name] = str(value)


def restore_env(name: str, previous: str | None) -> None:
    if previous is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = previous


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


def open_engine(*, quiet: bool = False, need_papers: bool = True, embeds: bool = True) -> Engine:
    """The engine, with the sample library ingested on first use of an empty library. An empty
    library without the sample is an error that says how to fill it, or for chat a notice.
    `embeds`: the command embeds text, so the model loads while the store opens."""
    engine = Engine(load_settings())
    if embeds:
        engine.load_embedder_in_background()
    empty = engine.store.is_empty()
    if empty and engine.needs_sample():
        err.print("The library is empty: ingesting the bundled sample library (Daily Papers) first.")
        with progress_bar("embedding papers", quiet) as (advance, set_total):
            engine.ingest_sample(advance, total=set_total)
    elif empty:
        if need_papers:
            raise PaperbotError(EMPTY_LIBRARY)
        err.print(f"[yellow]Note: {EMPTY_LIBRARY}.[/yellow]")
    return engine


def read_stdin() -> str:
    """`ask -`: the question from standard input, bounded so a runaway pipe cannot fill memory."""
    return sys.stdin.read(MAX_QUESTION_CHARS + 1)


def note_undated(engine: Engine, filters: Filters) -> None:
    """Date filters leave out undated papers: say how many, so none go missing silently."""
    if filters.since or filters.until:
        undated = engine.undated_count()
        if undated:
            err.print(f"[dim]{undated} undated papers left out by --since/--until[/dim]")


EMPTY_LIBRARY = "the library is empty: add papers with `paperbot ingest PATH` (files or folders of abstracts)"


def emit_json(data: object) -> None:
    text = json.dumps(data, ensure_ascii=False, indent=2)  # escapes C0 controls; C1 and DEL only occur in strings
    sys.stdout.write(re.sub("[\x7f-\x9f]", lambda m: f"\\u{ord(m.group()):04x}", text) + "\n")


# ---- rendering -----------------------------------------------------------------
