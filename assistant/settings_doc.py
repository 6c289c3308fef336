"""The settings reference (docs/settings.md), written from the settings models themselves, so
no setting goes undocumented:

    python -m assistant.settings_doc > docs/settings.md
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from assistant.settings import Settings

# Read straight from the environment, never from a file (secrets, and where to look).
ENVIRONMENT_ONLY = {
    "OPENAI_API_KEY or PAPERBOT_LLM_API_KEY": "key for OpenAI (LLM, embeddings); never read from a file, never logged",
    "DISCORD_TOKEN or PAPERBOT_DISCORD_TOKEN": "the Discord bot's token; never read from a file, masked by `config`",
    "PAPERBOT_CONFIG": "the TOML file to read (default `paperbot.toml` in the working directory); missing = an error",
    "PAPERBOT_ALLOW_HTTP_KEY": "`1` lets the API key go over plain HTTP to a host that is not this machine",
    "PAPERBOT_DEBUG": "`1` prints the full traceback of an unexpected error instead of one line",
}

HEADER = """# Settings reference

One settings tree (pydantic-settings). Sources, strongest first: command-line options
(`--home`, `--library`), environment variables (`PAPERBOT_` prefix; a section and its field
joined by `_`, e.g. `PAPERBOT_RETRIEVAL_K`), a TOML file (`paperbot.toml` in the working
directory, or the file named by `PAPERBOT_CONFIG`; sections as `[retrieval]`), then the
defaults. `paperbot config` prints the effective values and where each came from. Every
value is checked against the bounds below; a bad one is one line naming the setting and its
source. Lists and sections given in the environment are JSON (`PAPERBOT_DISCORD_CHANNELS=[1, 2]`).

This page is generated: `python -m assistant.settings_doc > docs/settings.md`.
"""


def env_name(path: tuple[str, ...]) -> str:
    return "PAPERBOT_LLM" if path == ("llm", "engine") else "PAPERBOT_" + "_".join(path).upper()


def bounds(info: FieldInfo) -> str:
    found = []
    for item in info.metadata:
        for attr, sign in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
            if getattr(item, attr, None) is not None:
                found.append(f"{sign} {getattr(item, attr)}")
    return ", ".join(found)


def default_of(path: tuple[str, ...], info: FieldInfo) -> str:
    if path == ("home",):  # a per-machine path
        return "the user data dir (`~/.local/share/paperbot` on Linux)"
    value = info.get_default(call_default_factory=True) if info.default is PydanticUndefined else info.default
    if value is None:
        return "unset"
    return f"`{json.dumps(value, default=str)}`"


def rows(model: type[BaseModel], prefix: tuple[str, ...] = ()) -> Iterator[str]:
    for name, info in model.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield from rows(annotation, (*prefix, name))
            continue
        path = (*prefix, name)
        description = (info.description or "").replace("|", "\\|")
        limits = bounds(info)
        yield (
            f"| `{env_name(path)}` | `{'.'.join(path)}` | {default_of(path, info)} | {description}"
            f"{f' ({limits})' if limits else ''} |"
        )


def reference() -> str:
    table = ["| environment variable | TOML key | default | meaning |", "|---|---|---|---|", *rows(Settings)]
    table += [f"| `{name}` | environment only | unset | {meaning} |" for name, meaning in ENVIRONMENT_ONLY.items()]
    return HEADER + "\n" + "\n".join(table) + "\n"


if __name__ == "__main__":
    print(reference(), end="")
