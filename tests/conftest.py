from __future__ import annotations

import fcntl
import os
import shutil
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
    """The bundled sample library, ingested once per run with the real MiniLM model; each
    test process (pytest-xdist worker) gets its own copy, so none sees another's writes."""
    home = tmp_path_factory.mktemp("sample-home") / "home"
    shutil.copytree(built_once(run_temp(tmp_path_factory) / "sample-home-built"), home)
    return home


def run_temp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The temporary folder of this whole run: under pytest-xdist, the one all workers share."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def built_once(home: Path) -> Path:
    """The first process to get here ingests the sample into `home`; the others wait for it."""
    complete = Path(f"{home}.complete")
    with open(f"{home}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not complete.exists():
            shutil.rmtree(home, ignore_errors=True)  # what a failed attempt left
            Engine(Settings(home=home)).ingest([sample_library()])
            complete.touch()
    return home


@pytest.fixture
def sample_engine(sample_home: Path) -> Iterator[Engine]:
    yield Engine(Settings(home=sample_home))


# The files whose few tests run real CLI processes for a minute or more, slowest first. The two
# pytest-xdist workers take whole files in collection order (`--no-loadscope-reorder`; xdist's
# default puts files with many tests first, which left these for last and one worker idle while
# the other ran them): starting with the longest files lets both workers finish together.
SLOWEST_FILES = (
    "test_crash.py",
    "test_library.py",
    "test_damaged.py",
    "test_load.py",
    "test_local_model.py",
    "test_evaluation.py",
    "test_hostile_files.py",
    "test_chroma_server.py",
    "test_paper_records.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        name = item.path.name
        return SLOWEST_FILES.index(name) if name in SLOWEST_FILES else len(SLOWEST_FILES)

    items.sort(key=rank)  # stable: each file's own tests keep their order
