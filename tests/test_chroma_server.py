"""Server mode against a real `chroma run` on 127.0.0.1: ingest, query and delete through it,
and a second engine (another home, as on another machine) and a separate CLI process
working on the same library."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.engine import Engine
from assistant.errors import PaperbotError
from assistant.models import Filters
from assistant.settings import Settings
from tests.fakes import HashingEmbedder

START_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:  # bounded: the server either answers or the test fails
        if process.poll() is not None:
            raise RuntimeError(f"chroma run exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"chroma run did not answer within {START_TIMEOUT} s")


class ChromaServer:
    """`chroma run` on 127.0.0.1; stop() and start() again keep the same port and data."""

    def __init__(self, data: Path) -> None:
        self.data = data
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        chroma = Path(sys.executable).parent / "chroma"
        self.process = subprocess.Popen(
            [str(chroma), "run", "--path", str(self.data), "--host", "127.0.0.1", "--port", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(self.url, self.process)

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = ChromaServer(tmp_path_factory.mktemp("chroma-server"))
    try:
        server.start()
        yield server.url
    finally:
        server.stop()


def server_engine(home: Path, url: str, collection: str) -> Engine:
    settings = Settings(home=home, chroma={"url": url, "collection": collection, "retries": 1})
    return Engine(settings, embedder=HashingEmbedder())


def test_ingest_search_and_delete_through_the_server(chroma_url: str, tmp_path: Path, data: Path) -> None:
    engine = server_engine(tmp_path / "a", chroma_url, "served")
    report, _ = engine.ingest([data / "plain.jsonl", data / "plain.csv"])
    assert report.added == 3
    assert not (tmp_path / "a" / "chroma").exists()  # the vectors live in the server, not locally
    for mode in ("hybrid", "dense", "bm25"):
        assert engine.search("tide pool ecology", k=1, mode=mode)[0].paper.title == "A Plain Paper About Tide Pools"
    dated = engine.search("kelp coral tide", k=5, filters=Filters(input_format="csv"))
    assert [r.paper.title for r in dated] == ["Kelp Forests at Night"]
    again, _ = engine.ingest([data / "plain.jsonl", data / "plain.csv"])
    assert again.unchanged == 3

    # Another engine with its own home, as on another machine: same library, its own BM25 copy.
    other = server_engine(tmp_path / "b", chroma_url, "served")
    assert other.search("tide pool ecology", k=1, mode="bm25")[0].paper.title == "A Plain Paper About Tide Pools"
    removed = other.delete(["2101.00001"])
    assert [p.title for p in removed] == ["Second Plain Paper"]
    assert engine.store.counts()[0] == 2  # the first engine sees the delete at once


def test_a_separate_cli_process_answers_from_the_server(chroma_url: str, tmp_path: Path, data: Path) -> None:
    engine = server_engine(tmp_path / "a", chroma_url, "cli")
    engine.ingest([data / "plain.jsonl"])
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERBOT_")}
    env |= {
        "PAPERBOT_HOME": str(tmp_path / "cli-home"),
        "PAPERBOT_CHROMA_URL": chroma_url,
        "PAPERBOT_CHROMA_COLLECTION": "cli",
        "PAPERBOT_EMBEDDING_PROVIDER": "local",
        "PAPERBOT_AUTO_SAMPLE": "false",
    }
    # The library was embedded with the test embedder, so the real CLI must refuse to mix models...
    mixed = subprocess.run(
        [sys.executable, "-m", "connectors.cli", "stats", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert mixed.returncode == 1 and "embedded with fake-hashing" in mixed.stderr
    # ...and a library it embedded itself it reads from another process.
    env["PAPERBOT_CHROMA_COLLECTION"] = "cli-real"
    ingest = subprocess.run(
        [sys.executable, "-m", "connectors.cli", "ingest", str(data / "plain.jsonl"), "--json"],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert ingest.returncode == 0, ingest.stderr
    ask = subprocess.run(
        [sys.executable, "-m", "connectors.cli", "ask", "Which paper surveys tide pool ecology?", "--json"],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert ask.returncode == 0, ask.stderr
    answer = json.loads(ask.stdout)
    assert not answer["refused"] and answer["citations"][0]["title"] == "A Plain Paper About Tide Pools"


def test_a_lost_server_is_one_clear_error_and_the_engine_recovers_when_it_returns(tmp_path: Path, data: Path) -> None:
    server = ChromaServer(tmp_path / "chroma-data")
    try:
        server.start()
        engine = server_engine(tmp_path / "home", server.url, "outage")
        engine.ingest([data / "plain.jsonl"])
        server.stop()
        with pytest.raises(PaperbotError, match=f"lost the Chroma server at {server.url}"):
            engine.search("tide pool ecology", k=1)
        with pytest.raises(PaperbotError, match="lost the Chroma server"):
            engine.ingest([data / "plain.csv"])
        server.start()  # same port, same data
        assert engine.search("tide pool ecology", k=1)[0].paper.title == "A Plain Paper About Tide Pools"
        report, _ = engine.ingest([data / "plain.jsonl", data / "plain.csv"])
        assert (report.added, report.unchanged) == (1, 2)
    finally:
        server.stop()


def test_an_unreachable_server_at_start_is_one_line_and_exit_1(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERBOT_")}
    env |= {"PAPERBOT_HOME": str(tmp_path), "PAPERBOT_CHROMA_URL": f"http://127.0.0.1:{free_port()}"}
    result = subprocess.run(
        [sys.executable, "-m", "connectors.cli", "search", "tide pools"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.strip().startswith("error: cannot reach the Chroma server at http://127.0.0.1:")
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_server_that_starts_late_is_waited_for(tmp_path: Path, data: Path) -> None:
    server = ChromaServer(tmp_path / "late-data")
    starter = threading.Timer(1.0, server.start)  # as a compose service still starting
    try:
        starter.start()
        settings = Settings(home=tmp_path / "home", chroma={"url": server.url, "collection": "late", "retries": 6})
        engine = Engine(settings, embedder=HashingEmbedder())
        assert engine.ingest([data / "plain.jsonl"])[0].added == 2
    finally:
        starter.join(timeout=START_TIMEOUT + 5)
        server.stop()


def test_engines_with_other_homes_see_each_others_changes_at_the_next_question(
    chroma_url: str, tmp_path: Path, data: Path
) -> None:
    first = server_engine(tmp_path / "a", chroma_url, "shared")
    second = server_engine(tmp_path / "b", chroma_url, "shared")
    first.ingest([data / "plain.jsonl"])
    assert second.search("kelp forests night", k=3, mode="bm25") == [] or all(
        r.paper.title != "Kelp Forests at Night" for r in second.search("kelp forests night", k=3, mode="bm25")
    )
    first.ingest([data / "plain.csv"])  # the second engine's keyword index is now stale
    for mode in ("bm25", "hybrid"):
        assert second.search("kelp forests night", k=1, mode=mode)[0].paper.title == "Kelp Forests at Night"
    second.delete([second.search("kelp forests night", k=1)[0].paper.id])
    assert "Kelp Forests at Night" not in {r.paper.title for r in first.search("kelp forests night", k=5)}
