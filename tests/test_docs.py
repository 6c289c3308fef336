"""The documentation keeps up with the code: every setting, every environment variable the
code reads, and every command are documented."""

from __future__ import annotations

import re
from pathlib import Path

from assistant.settings_doc import ENVIRONMENT_ONLY, reference
from connectors.cli import app

ROOT = Path(__file__).parent.parent


def test_the_settings_reference_is_current() -> None:
    assert (ROOT / "docs" / "settings.md").read_text() == reference(), (
        "regenerate: python -m assistant.settings_doc > docs/settings.md"
    )


def test_every_environment_variable_the_code_reads_is_documented() -> None:
    code = "\n".join(p.read_text() for d in ("assistant", "connectors") for p in (ROOT / d).rglob("*.py"))
    read = set(re.findall(r"environ(?:\.get)?\(?\[?\"([A-Z_]+)\"", code))
    documented = " ".join(ENVIRONMENT_ONLY) + (ROOT / "README.md").read_text()
    assert read and all(name in documented for name in read), sorted(read)


def test_every_command_is_in_the_readme_table() -> None:
    readme = (ROOT / "README.md").read_text()
    names = {c.name or (c.callback.__name__ if c.callback else "") for c in app.registered_commands}
    names |= {group.name or "" for group in app.registered_groups}
    missing = [name for name in names if f"`paperbot {name}" not in readme]
    assert not missing
