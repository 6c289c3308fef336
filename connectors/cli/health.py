"""`paperbot health` and `paperbot repair`: the library's state, and fixing what can be fixed."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from assistant.engine import Engine
from assistant.health import check, repair
from assistant.settings import load_settings
from connectors.cli.shared import emit_json, err, handle_errors, out

NoWaitOpt = Annotated[
    bool,
    typer.Option(
        "--no-wait", metavar="", help="Fail at once if another process is writing to the library; do not wait."
    ),
]


def register(app: typer.Typer) -> None:

    @app.command()
    @handle_errors
    def health(
        as_json: Annotated[bool, typer.Option("--json", metavar="", help="Print one JSON object.")] = False,
        deep: Annotated[
            bool,
            typer.Option("--deep", metavar="", help="Also read every keyword-index page; look for leftover chunks."),
        ] = False,
    ) -> None:
        """Check the library (store, keyword index, writer): exit 0 when healthy, 1 when not."""
        settings = load_settings()
        report = check(Engine(settings), deep).to_dict() | {"chroma": settings.chroma.url or "embedded"}
        if as_json:
            emit_json(report)
        elif report["ok"]:
            out.print(f"ok: {report['papers']} papers, {report['chunks']} chunks ({report['chroma']})")
        else:
            out.print(f"[red]not ok[/red]: store {escape(str(report['store']))}")
            for problem in report["problems"]:  # type: ignore[attr-defined]
                out.print(f"  {escape(problem)}")
        if not report["ok"]:
            raise SystemExit(1)  # the report said why; handle_errors would call typer.Exit unexpected

    @app.command(name="repair")
    @handle_errors
    def repair_command(no_wait: NoWaitOpt = False) -> None:
        """Fix what can be fixed from what is stored: rebuild the keyword index, drop leftover chunks."""
        engine = Engine(load_settings())
        for line in repair(engine, wait=not no_wait):
            out.print(escape(line))
        err.print("repair finished; `paperbot health` shows the state")
