"""Docker files checked against the project: hadolint on the Dockerfile, and compose.yaml's
services, build paths, volumes and variable names against the real files and settings."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel

from assistant.settings import Settings
from connectors.cli import app

ROOT = Path(__file__).resolve().parents[1]
DOCKER = ROOT / "docker"
SECRETS = {"DISCORD_TOKEN", "OPENAI_API_KEY", "PAPERBOT_LLM_API_KEY", "PAPERBOT_DISCORD_TOKEN"}


def setting_names() -> set[str]:
    """Every environment variable the settings read (nested ones as PAPERBOT_SECTION_FIELD)."""
    names = set(SECRETS)
    for name, field in Settings.model_fields.items():
        names.add(f"PAPERBOT_{name}".upper())
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            names |= {f"PAPERBOT_{name}_{sub}".upper() for sub in field.annotation.model_fields}
    return names


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())


def test_dockerfile_passes_hadolint() -> None:
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    result = subprocess.run(
        [hadolint, "--failure-threshold", "info", str(DOCKER / "Dockerfile")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_copies_real_paths_runs_as_non_root_and_calls_real_commands() -> None:
    text = (DOCKER / "Dockerfile").read_text()
    for source in re.findall(r"^COPY (.+) \S+$", text, re.MULTILINE):
        for part in source.split():
            assert (ROOT / part).exists(), part
    assert re.search(r"^USER (?!root|0\b)\S+", text, re.MULTILINE)
    assert re.search(r"^FROM python:3\.11-slim", text, re.MULTILINE)
    commands = {c.name or c.callback.__name__ for c in app.registered_commands}  # type: ignore[union-attr]
    assert 'ENTRYPOINT ["paperbot"]' in text and "paperbot" in metadata.entry_points(group="console_scripts").names
    assert re.search(r'^CMD \["(\w+)"\]', text, re.MULTILINE).group(1) in commands  # type: ignore[union-attr]
    assert re.search(r'HEALTHCHECK .*\n?.*CMD \["paperbot", "(\w+)"', text).group(1) in commands  # type: ignore[union-attr]


def test_compose_services_build_and_volumes_match_the_repository(compose: dict) -> None:
    services = compose["services"]
    assert set(services) == {"chroma", "bot"}
    build = services["bot"]["build"]
    context = (DOCKER / build["context"]).resolve()
    assert context == ROOT and (context / build["dockerfile"]).is_file()
    declared = set(compose["volumes"])
    for service in services.values():
        for mount in service.get("volumes", []):
            assert mount.split(":")[0] in declared
    bot_data = services["bot"]["volumes"][0].split(":")[1]
    assert services["bot"]["environment"]["PAPERBOT_HOME"] == bot_data
    assert "chroma" in services["bot"]["depends_on"]


def test_compose_points_the_bot_at_the_chroma_service_of_the_installed_client_version(compose: dict) -> None:
    chroma = compose["services"]["chroma"]
    assert chroma["image"] == f"chromadb/chroma:{metadata.version('chromadb')}"
    url = compose["services"]["bot"]["environment"]["PAPERBOT_CHROMA_URL"]
    assert url == "http://chroma:8000"


def test_every_variable_named_is_a_real_setting_and_secrets_come_from_the_env_file(compose: dict) -> None:
    known = setting_names()
    bot = compose["services"]["bot"]
    assert set(bot["environment"]) <= known
    assert not set(bot["environment"]) & SECRETS  # secrets never sit in compose.yaml
    assert bot["env_file"] == ["paperbot.env"]
    example = (DOCKER / "paperbot.env.example").read_text()
    named = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", example, re.MULTILINE))
    assert "DISCORD_TOKEN" in named and named <= known
    assert "docker/paperbot.env" in (ROOT / ".gitignore").read_text().splitlines()
