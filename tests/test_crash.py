"""Crashes and a full disk. An ingest killed with SIGKILL at a random point, then run again, leaves a complete library:
every paper once, every paper's chunks all there, no orphaned chunks, and a keyword index
that matches the store. The ingest runs as a real CLI process; its embeddings come from the
OpenAI-compatible test server, which also tells us how far it got before the kill."""

from __future__ import annotations

import json
import os
import random
import resource
import signal
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from assistant.engine import Engine
from assistant.lexical import LexicalIndex
from assistant.settings import Settings
from tests.openai_server import FakeOpenAI

PAPERS = 300
KILL_WAIT = 60.0


def library_file(tmp_path: Path) -> Path:
    rng = random.Random(3)
    words = ["coral", "kelp", "urchin", "reef", "tide", "plankton", "sonar", "whale", "current", "salinity"]
    rows = []
    for n in range(PAPERS):
        sentences = [" ".join(rng.choices(words, k=12)).capitalize() + "." for _ in range(rng.randint(2, 12))]
        rows.append(
            {"id": f"2301.{n:05d}", "title": f"Paper {n} on {rng.choice(words)}", "abstract": " ".join(sentences)}
        )
    path = tmp_path / "papers.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def cli_env(home: Path, server: FakeOpenAI) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERBOT_")}
    return env | {
        "PAPERBOT_HOME": str(home),
        "PAPERBOT_EMBEDDING_PROVIDER": "openai",
        "PAPERBOT_EMBEDDING_MODEL": "e",
        "PAPERBOT_EMBEDDING_BASE_URL": server.base_url,
        "PAPERBOT_EMBEDDING_BATCH_SIZE": "8",
    }


def kill_after(requests: int, path: Path, env: dict[str, str], server: FakeOpenAI) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "connectors.cli", "ingest", str(path), "--json"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + KILL_WAIT
    while len(server.requests) < requests and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert process.poll() is None, "the ingest finished before the kill point"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)


def assert_complete(engine: Engine) -> None:
    papers = {p.id: p for p in engine.store.all_papers()}
    assert len(papers) == PAPERS
    rows = list(engine.store.chunk_rows())
    ids = [row.key for row in rows]
    assert len(ids) == len(set(ids))
    by_paper: dict[str, list[int]] = defaultdict(list)
    for chunk_id in ids:
        paper_id, index = chunk_id.rsplit("#", 1)
        by_paper[paper_id].append(int(index))
    assert set(by_paper) == set(papers)  # no orphaned chunks, no paper without chunks
    assert all(sorted(indexes) == list(range(len(indexes))) for indexes in by_paper.values())
    lexical = LexicalIndex.open(engine.library.index_path, engine.settings.home, engine.store)
    assert lexical.meta["writing"] == "0"
    assert sorted(lexical.chunks.live_keys()) == sorted(ids)
    assert sorted(lexical.titles.live_keys()) == sorted(papers)


@pytest.fixture(scope="module")
def server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        fake.delay = 0.02  # slow enough that a kill lands mid-run
        yield fake


@pytest.fixture(scope="module")
def papers_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return library_file(tmp_path_factory.mktemp("crash-data"))


@pytest.fixture(scope="module")
def calls_per_run(tmp_path_factory: pytest.TempPathFactory, papers_file: Path, server: FakeOpenAI) -> int:
    """How many embedding calls a whole, uninterrupted run makes."""
    home = tmp_path_factory.mktemp("probe")
    full = subprocess.run(
        [sys.executable, "-m", "connectors.cli", "ingest", str(papers_file), "--json"],
        env=cli_env(home, server), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert full.returncode == 0, full.stderr
    calls = len(server.requests)
    server.requests.clear()
    return calls


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_an_ingest_killed_at_a_random_point_completes_on_the_next_run(
    tmp_path: Path, papers_file: Path, server: FakeOpenAI, calls_per_run: int, seed: int
) -> None:
    env = cli_env(tmp_path / "home", server)
    server.requests.clear()
    kill_after(random.Random(seed).randint(2, calls_per_run - 2), papers_file, env, server)
    rerun = subprocess.run(
        [sys.executable, "-m", "connectors.cli", "ingest", str(papers_file), "--json"],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert rerun.returncode == 0, rerun.stderr
    report = json.loads(rerun.stdout)
    assert report["added"] + report["unchanged"] == PAPERS and report["added"] > 0
    embedding = {"provider": "openai", "model": "e", "base_url": server.base_url}
    assert_complete(Engine(Settings(home=tmp_path / "home", embedding=embedding)))


def limit_file_size(limit: int) -> Callable[[], None]:
    """In the child: files may not grow past `limit` bytes, as on a full disk (EFBIG, not a signal)."""

    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_a_full_disk_is_one_clear_error_and_the_library_stays_intact(
    tmp_path: Path, papers_file: Path, server: FakeOpenAI
) -> None:
    env = cli_env(tmp_path / "home", server)
    first = tmp_path / "first.jsonl"
    first.write_text("".join(papers_file.read_text().splitlines(keepends=True)[:40]))

    def cli(*args: str, limit: Callable[[], None] | None = None) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "connectors.cli", *args]
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, preexec_fn=limit)

    assert cli("ingest", str(first)).returncode == 0
    before = (cli("stats", "--json").stdout, cli("search", "kelp urchin", "--json").stdout)
    largest = max(f.stat().st_size for f in (tmp_path / "home").rglob("*") if f.is_file())
    full = cli("ingest", str(papers_file), "--json", limit=limit_file_size(largest + 4096))
    assert full.returncode == 1 and "Traceback" not in full.stderr
    assert full.stderr.startswith("error: cannot write the library (disk full or not writable)")
    assert len(full.stderr.strip().splitlines()) == 1
    assert (cli("stats", "--json").stdout, cli("search", "kelp urchin", "--json").stdout) == before
    again = cli("ingest", str(papers_file), "--json")  # space again: the run finishes the rest
    assert again.returncode == 0 and json.loads(again.stdout)["added"] == PAPERS - 40
