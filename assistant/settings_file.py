"""The settings file (TOML) and where each effective value came from.

A file is read strictly: a missing file that PAPERBOT_CONFIG names, malformed TOML, and any
key that is not a setting are errors naming the file and the key, because a misspelt key
silently ignored leaves the setting at its default while the user believes it changed.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel

from assistant.errors import PaperbotError

DEFAULT_FILE = "paperbot.toml"
# Keys that stand for a whole section: `llm = "openai"` names the engine.
SHORTHANDS = {"llm"}


def config_file() -> Path:
    return Path(os.environ.get("PAPERBOT_CONFIG") or DEFAULT_FILE)


def read_config(model: type[BaseModel]) -> tuple[Path, dict[str, Any]]:
    """The file's settings, checked against `model`'s fields; {} when there is no file."""
    path = config_file()
    if not path.exists():
        if os.environ.get("PAPERBOT_CONFIG"):
            raise PaperbotError(f"PAPERBOT_CONFIG names {path}, which does not exist")
        return path, {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise PaperbotError(f"{path}: not valid TOML ({exc})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PaperbotError(f"{path}: cannot read the settings file ({exc})") from None
    check_keys(data, model, path)
    return path, data


def check_keys(data: Mapping[str, Any], model: type[BaseModel], path: Path, prefix: str = "") -> None:
    fields = model.model_fields
    for key, value in data.items():
        if key not in fields:
            raise PaperbotError(f"{path}: unknown setting {prefix}{key}{_suggestion(key, fields, prefix)}")
        section = fields[key].annotation
        if isinstance(section, type) and issubclass(section, BaseModel):
            if isinstance(value, Mapping):
                check_keys(value, section, path, f"{prefix}{key}.")
            elif not (key in SHORTHANDS and not prefix):
                raise PaperbotError(f"{path}: {prefix}{key} is a section ([{prefix}{key}]), not a value")


def _suggestion(key: str, fields: Mapping[str, Any], prefix: str) -> str:
    close = difflib.get_close_matches(key, list(fields), n=1)
    return f" (did you mean {prefix}{close[0]}?)" if close else ""


def leaves(data: Mapping[str, Any], prefix: str = "") -> Iterator[str]:
    """Dotted names of the values in a nested dict: {"llm": {"model": ...}} gives llm.model."""
    for key, value in data.items():
        if isinstance(value, Mapping) and value:
            yield from leaves(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}"


def env_name(dotted: str) -> str:
    return "PAPERBOT_" + dotted.replace(".", "_").upper()


def value_sources(env: Mapping[str, Any], file: Mapping[str, Any], path: Path) -> dict[str, str]:
    """For each setting given somewhere, where its value came from (the environment wins)."""
    sources = {name: f"file {path.resolve()}" for name in leaves(file)}
    if "llm" in file and not isinstance(file["llm"], Mapping):
        sources["llm.engine"] = sources.pop("llm")
    sources.update({name: f"env {env_name(name)}" for name in leaves(env)})
    return sources


def is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(url: str | None) -> str | None:
    """ "" means unset; anything else must be an http(s) URL with a host."""
    if url is None or not url.strip():
        return None
    parts = urlsplit(url.strip())
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValueError(f"expected an http:// or https:// URL with a host, got {url!r}")
    return url.strip()
