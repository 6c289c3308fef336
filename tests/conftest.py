from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.engine import Engine, sample_library
from assistant.settings import Settings
from tests.fakes import HashingEmbedder

DATA = Path(__file__).parent / "data"
# tests.local_llm: the session's one real-model server (SmolLM2 on llama.cpp); tests.discord_harness: dpytest bots
pytest_plugins = ["tests.local_llm", "tests.discord_harness"]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test sees the developer's settings, keys or paperbot.toml."""
    for name in list(os.environ):
        if name.startswith("PAPERBOT_") or name in {"OPENAI_API_KEY", "DISCORD_TOKEN"}:
            monkeypatch.delenv(name)
    monkeypatch.setenv("PAPERBOT_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def data() -> Path:
    return DATA


@pytest.fixture
def fake_engine(tmp_path: Path) -> Engine:
    """A real Chroma library with the fast fake embedder."""
    return Engine(Settings(home=tmp_path / "fake-home"), embedder=HashingEmbedder())


@pytest.fixture(scope="session")
def sample_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled sample library, ingested once with the real MiniLM model."""
    home = tmp_path_factory.mktemp("sample-home")
    Engine(Settings(home=home)).ingest([sample_library()])
    return home


@pytest.fixture
def sample_engine(sample_home: Path) -> Iterator[Engine]:
    yield Engine(Settings(home=sample_home))
