"""Damaged and read-only homes, through the real CLI in separate processes: a clear message
or a self-repair, never a traceback, and never the sample library over the user's papers."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from assistant.engine import Engine
from assistant.settings import Settings
from tests.openai_server import FakeOpenAI

ROWS = [
    {"id": f"2501.{n:05d}", "title": f"Lagoon study {n} {word}", "abstract": f"The {word} of lagoon {n} drifts."}
    for n, word in enumerate(["eelgrass", "mangrove", "seagrass", "lugworm", "cockle", "heron"])
]


@pytest.fixture(scope="module")
def server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake


def embedding(server: FakeOpenAI) -> dict[str, str]:
    return {"provider": "openai", "model": "e", "base_url": server.base_url}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, server: FakeOpenAI) -> Path:
    """A small library, built once; each test works on its own copy."""
    folder = tmp_path_factory.mktemp("damaged")
    (folder / "lagoon.jsonl").write_text("\n".join(json.dumps(r) for r in ROWS) + "\n")
    Engine(Settings(home=folder / "home", embedding=embedding(server))).ingest([folder / "lagoon.jsonl"])
    return folder / "home"


@pytest.fixture
def home(built: Path, tmp_path: Path) -> Path:
    shutil.copytree(built, tmp_path / "home")
    return tmp_path / "home"


def run(home: Path, server: FakeOpenAI, *args: str, wrap: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERBOT_")}
    env |= {
        "PAPERBOT_HOME": str(home),
        "PAPERBOT_EMBEDDING_PROVIDER": "openai",
        "PAPERBOT_EMBEDDING_MODEL": "e",
        "PAPERBOT_EMBEDDING_BASE_URL": server.base_url,
    }  # auto_sample stays on (the default): it must not fire on a damaged library
    command = [*(wrap or []), sys.executable, "-m", "connectors.cli", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)


def one_clear_line(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr and "unexpected" not in result.stderr, lines
    for word in words:
        assert word in lines[0], lines[0]


@pytest.mark.parametrize("size", [0.5, 0.05])
def test_a_truncated_store_says_what_to_do_and_is_never_replaced(home: Path, server: FakeOpenAI, size: float) -> None:
    store = home / "chroma" / "chroma.sqlite3"
    with store.open("r+b") as handle:
        handle.truncate(int(store.stat().st_size * size))
    damaged = store.read_bytes()
    for args in (["stats"], ["search", "eelgrass"], ["ask", "what drifts in the lagoon?"]):
        one_clear_line(run(home, server, *args), "is damaged", "restore")
    health = run(home, server, "health")
    assert health.returncode == 1 and "is damaged" in health.stdout and "Traceback" not in health.stderr
    data = home / "more.jsonl"
    data.write_text(json.dumps({"title": "New", "abstract": "Text."}) + "\n")
    one_clear_line(run(home, server, "ingest", str(data)), "is damaged")
    one_clear_line(run(home, server, "repair"), "is damaged")
    assert store.read_bytes() == damaged  # nothing, least of all the sample, was written over it


def test_a_lost_store_with_an_index_that_remembers_papers_gets_no_sample(home: Path, server: FakeOpenAI) -> None:
    shutil.rmtree(home / "chroma")
    one_clear_line(run(home, server, "search", "eelgrass"), "remembers papers", "repair")
    settings = Settings(home=home, embedding=embedding(server))
    assert Engine(settings).store.counts() == (0, 0)  # the sample was not ingested


@pytest.mark.parametrize("damage", ["missing", "truncated"])
def test_a_damaged_keyword_index_repairs_itself_in_a_cli_run(home: Path, server: FakeOpenAI, damage: str) -> None:
    index = next((home / "lexical").glob("*.sqlite3"))
    if damage == "missing":
        index.unlink()
    else:
        with index.open("r+b") as handle:
            handle.truncate(4096)
    result = run(home, server, "search", "mangrove lagoon", "--mode", "bm25", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["results"][0]["title"] == "Lagoon study 1 mangrove"
    assert run(home, server, "health").returncode == 0


def test_repair_removes_leftover_chunks_and_health_reports_them(home: Path, server: FakeOpenAI) -> None:
    engine = Engine(Settings(home=home, embedding=embedding(server)))
    engine.store.papers.delete(ids=["2501.00002"])  # as a run killed between chunks and record leaves it
    health = run(home, server, "health", "--deep", "--json")
    assert health.returncode == 1
    report = json.loads(health.stdout)
    assert any("chunks without a paper record" in p for p in report["problems"])
    fixed = run(home, server, "repair")
    assert fixed.returncode == 0 and "removed 1 chunks without a paper record" in fixed.stdout
    assert json.loads(run(home, server, "health", "--deep", "--json").stdout)["ok"] is True


def drop_privileges() -> list[str]:
    """Root ignores file modes; without these capabilities it obeys them as any user does."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: a read-only home cannot be made")
    caps = "-dac_override,-dac_read_search,-fowner"
    return [setpriv, f"--bounding-set={caps}", f"--inh-caps={caps}"]


def make_read_only(home: Path) -> Callable[[], None]:
    paths = [home, *home.rglob("*")]
    for path in paths:
        path.chmod(path.stat().st_mode & ~0o222)
    return lambda: [path.chmod(path.stat().st_mode | 0o200) for path in paths] and None


def test_a_read_only_home_reads_and_refuses_writes_clearly(home: Path, server: FakeOpenAI) -> None:
    wrap = drop_privileges()
    before = {p: p.read_bytes() for p in home.rglob("*") if p.is_file()}
    restore = make_read_only(home)
    try:
        stats = run(home, server, "stats", "--json", wrap=wrap)
        assert stats.returncode == 0, stats.stderr
        assert json.loads(stats.stdout)["papers"] == len(ROWS)
        for mode in ("hybrid", "bm25", "dense"):
            found = run(home, server, "search", "mangrove lagoon", "--mode", mode, "--json", wrap=wrap)
            assert found.returncode == 0, found.stderr
            assert json.loads(found.stdout)["results"][0]["title"] == "Lagoon study 1 mangrove"
        asked = run(home, server, "ask", "What drifts in the mangrove lagoon?", "--json", wrap=wrap)
        assert asked.returncode == 0, asked.stderr
        data = home.parent / "more.jsonl"
        data.write_text(json.dumps({"title": "New", "abstract": "Text."}) + "\n")
        one_clear_line(run(home, server, "ingest", str(data), wrap=wrap), "read-only")
        one_clear_line(run(home, server, "delete", "2501.00001", wrap=wrap), "read-only")
    finally:
        restore()
    assert {p: p.read_bytes() for p in home.rglob("*") if p.is_file()} == before


def rows_of(path: Path) -> set[str]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return set(conn.iterdump())
    finally:
        conn.close()


def test_ask_writes_nothing_of_its_own_into_the_store(home: Path, server: FakeOpenAI) -> None:
    store = home / "chroma" / "chroma.sqlite3"
    before = rows_of(store)
    assert run(home, server, "ask", "What drifts in the mangrove lagoon?").returncode == 0
    changed = before ^ rows_of(store)
    # Chroma itself replaces one row of its `acquire_write` lock table whenever a client starts.
    assert all(line.startswith('INSERT INTO "acquire_write"') for line in changed), changed
