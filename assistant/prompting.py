"""Templates from prompts/, loaded once and checked against the variables code fills in."""

from __future__ import annotations

import string
from functools import cache
from importlib import resources

from assistant.errors import PaperbotError

# Each template and exactly the placeholders the code provides for it.
TEMPLATES: dict[str, frozenset[str]] = {
    "not_found": frozenset({"question"}),
    "answer_system": frozenset(),
    "answer_user": frozenset({"sources", "question"}),
    "condense": frozenset({"history", "question"}),
    "llm_unavailable": frozenset({"reason"}),
    "summary_system": frozenset(),
    "summary_user": frozenset({"topic", "themes"}),
}


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@cache
def template(name: str) -> str:
    text = resources.files("prompts").joinpath(f"{name}.txt").read_text("utf-8").strip()
    found, expected = placeholders(text), TEMPLATES[name]
    if found != expected:
        raise PaperbotError(f"prompts/{name}.txt: placeholders {sorted(found)} should be {sorted(expected)}")
    return text


def render(name: str, **values: str) -> str:
    return template(name).format(**values)


def check_all() -> None:
    """Fail at start-up, not mid-answer, when a template is missing or wrong."""
    for name in TEMPLATES:
        template(name)
