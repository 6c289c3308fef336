"""`paperbot chat`: questions one after another, with follow-ups, sources, feedback and history."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from assistant.conversation import Conversation
from assistant.engine import Engine
from assistant.errors import PaperbotError
from assistant.models import Filters
from connectors.cli import feedback
from connectors.cli.render import TokenPrinter, paper_line, print_answer
from connectors.cli.shared import SinceOpt, SourceOpt, UntilOpt, app, err, handle_errors, open_engine, out
from connectors.common import make_filters
from connectors.terminal_text import escape  # control characters never reach the terminal

CHAT_HISTORY_LINES = 1000
CHAT_HELP = """Type a question and press Enter. Commands:
  /sources  the last answer's papers, numbered as its [n], then the others it read
  /reset    forget the conversation so far
  /good     record the last answer as good (it becomes an eval question)
  /bad      record the last answer as bad
  /help     this text
  Ctrl-D or /quit to leave"""


@app.command()
@handle_errors
def chat(since: SinceOpt = None, until: UntilOpt = None, source: SourceOpt = None) -> None:
    """Ask questions one after another in an interactive session (/help inside)."""
    filters = make_filters(since, until, source)
    engine = open_engine(need_papers=False)  # chat stays open: papers may arrive meanwhile
    out.print("paperbot chat. /help for commands, Ctrl-D to leave.")
    conversation = Conversation()
    with chat_history(engine.settings.home / "chat_history") as remember:
        while (line := read_line()) is not None:
            remember(line)
            if not chat_turn(line, engine, conversation, filters):
                break


@contextmanager
def chat_history(path: Path) -> Iterator[Callable[[str], None]]:
    """Line editing, and an up-arrow that reaches questions of earlier sessions (kept in the home)."""
    try:
        import readline
    except ImportError:  # no readline on this platform: chat works without history
        yield lambda _line: None
        return
    readline.clear_history()
    with contextlib.suppress(OSError):
        readline.read_history_file(path)
    readline.set_history_length(CHAT_HISTORY_LINES)
    interactive = sys.stdin.isatty()  # input() adds lines itself only at a terminal
    try:
        yield lambda line: None if interactive or not line else readline.add_history(line)
    finally:
        with contextlib.suppress(OSError):  # a read-only home keeps no history
            readline.write_history_file(path)


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
    elif command in {"/good", "/bad"}:
        out.print(escape(feedback.chat_vote("good" if command == "/good" else "bad", engine, conversation)))
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
    """The last answer's papers under the numbers its [n] markers use, then the rest it read."""
    last = conversation.last
    if last is None:
        out.print("No question asked yet.")
        return
    cited = {c.paper.id: c.n for c in last.citations}
    for citation in last.citations:
        out.print(f"  [{citation.n}] {paper_line(citation.paper)}")
    others = [s for s in last.sources if s.paper.id not in cited]
    if others:
        out.print("[dim]also retrieved, not cited:[/dim]")
    for result in others:
        out.print(f"   - [cyan]similarity {result.similarity:.2f}[/cyan]  {paper_line(result.paper)}")
