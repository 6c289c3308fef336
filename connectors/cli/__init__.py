"""The `paperbot` command: a thin adapter that parses input, calls the engine, renders output.

One module per command group. `app` holds the shared parts (the typer app, options, one-line
errors); each group module adds its commands to it when it is imported or registered here."""

from __future__ import annotations

# Import order is the order of `paperbot --help`: the library, questions, chat, then the rest.
# isort: off
from connectors.cli import library, questions, chat, discord
from connectors.cli import evaluation, export, feedback, fetch, health, related
from connectors.cli.shared import app

# isort: on

for group in (fetch, export, related, evaluation, feedback, health):
    group.register(app)

__all__ = ["app", "chat", "discord", "library", "main", "questions"]


def main() -> None:
    app()
