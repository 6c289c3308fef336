"""One writer, many readers, across real processes: concurrent ingests lose nothing, a running
`chat` sees papers other processes add and delete, and the writer lock refuses or waits.
CLI processes embed through the OpenAI-compatible test server (fast, deterministic)."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.engine import Engine
from assistant.settings import Settings
from tests.openai_server import FakeOpenAI

TURN_TIMEOUT = 120.0
WORDS = ["kelp", "urchin", "otter", "coral", "tide", "reef", "plankton", "current", "sand", "crab", "gull", "seal"]


@pytest.fixture(scope="module")
def server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake


def env_for(home: Path, server: FakeOpenAI) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERBOT_")}
    return env | {
        "PAPERBOT_HOME": str(home),
        "PAPERBOT_AUTO_SAMPLE": "false",
        "PAPERBOT_EMBEDDING_PROVIDER": "openai",
        "PAPERBOT_EMBEDDING_MODEL": "e",
        "PAPERBOT_EMBEDDING_BASE_URL": server.base_url,
        "PAPERBOT_EMBEDDING_BATCH_SIZE": "8",
    }


def engine_for(home: Path, server: FakeOpenAI) -> Engine:
    embedding = {"provider": "openai", "model": "e", "base_url": server.base_url}
    return Engine(Settings(home=home, embedding=embedding, auto_sample=False))


def papers_file(folder: Path, name: str, prefix: str, count: int) -> tuple[Path, list[dict[str, str]]]:
    rows = []
    for n in range(count):
        marks = f"{name}{n} {name}x{n} {name}y{n}"  # words no other paper has: the fake embedder is coarse
        rows.append(
            {
                "id": f"{prefix}.{n:05d}",
                "title": f"{marks.title()} survey of {WORDS[n % 12]}",
                "abstract": f"We count {WORDS[n % 12]} near {WORDS[(n * 7) % 12]} at {marks}. "
                f"The transect shows {WORDS[(n * 3) % 12]} moving with the {WORDS[(n * 5) % 12]}.",
            }
        )
    path = folder / f"{name}.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path, rows


def cli(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "connectors.cli", *args]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=300)
    return process.returncode, out, err


def assert_all_findable(engine: Engine, rows: list[dict[str, str]]) -> None:
    stored = {p.id for p in engine.store.all_papers()}
    assert {r["id"] for r in rows} <= stored
    for row in rows[:: max(1, len(rows) // 6)]:  # a sample of titles, each at rank 1 in every mode
        for mode in ("dense", "bm25", "hybrid"):
            assert engine.search(row["title"], k=3, mode=mode)[0].paper.id == row["id"], (mode, row["title"])


def test_two_concurrent_ingests_keep_every_paper(tmp_path: Path, server: FakeOpenAI) -> None:
    home = tmp_path / "home"
    first, first_rows = papers_file(tmp_path, "north", "2401", 60)
    second, second_rows = papers_file(tmp_path, "south", "2402", 60)
    env = env_for(home, server)
    server.delay = 0.01  # both runs overlap
    try:
        runs = [cli(env, "ingest", str(first), "--json"), cli(env, "ingest", str(second), "--json")]
        results = [finish(run) for run in runs]
    finally:
        server.delay = 0.0
    for code, out, err in results:
        assert code == 0, err
        assert json.loads(out)["added"] == 60
    assert any("waiting for another paperbot process" in err for _, _, err in results)
    engine = engine_for(home, server)
    assert engine.store.counts()[0] == 120
    assert len(engine.lexical().titles) == 120 and len(engine.lexical().chunks) == engine.store.counts()[1]
    assert_all_findable(engine, first_rows + second_rows)


def test_no_wait_refuses_while_another_writes_and_the_retry_succeeds(tmp_path: Path, server: FakeOpenAI) -> None:
    home = tmp_path / "home"
    first, first_rows = papers_file(tmp_path, "east", "2403", 80)
    second, second_rows = papers_file(tmp_path, "west", "2404", 10)
    env = env_for(home, server)
    server.delay = 0.03
    try:
        running = cli(env, "ingest", str(first), "--json")
        deadline = time.monotonic() + 60
        while not (home / "writer.lock").exists() or not _lock_held(home):
            assert time.monotonic() < deadline and running.poll() is None
            time.sleep(0.05)
        code, _, err = finish(cli(env, "ingest", str(second), "--no-wait"))
        assert code == 1 and err.startswith("error: another paperbot process (pid ")
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
        assert finish(running)[0] == 0
    finally:
        server.delay = 0.0
    retry = finish(cli(env, "ingest", str(second), "--no-wait", "--json"))
    assert retry[0] == 0 and json.loads(retry[1])["added"] == 10
    assert_all_findable(engine_for(home, server), first_rows + second_rows)


def _lock_held(home: Path) -> bool:
    from assistant.writelock import writer_active

    return writer_active(home)


class Chat:
    """`paperbot chat` driven over stdin; each turn's output ends with the next prompt."""

    def __init__(self, env: dict[str, str]) -> None:
        command = [sys.executable, "-m", "connectors.cli", "chat"]
        self.process = subprocess.Popen(
            command, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        self.chunks: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()
        self.text = ""
        self._until_prompt()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        while piece := self.process.stdout.read(1):
            self.chunks.put(piece)

    def _until_prompt(self) -> str:
        start = len(self.text)
        deadline = time.monotonic() + TURN_TIMEOUT
        while len(self.text) == start or not self.text.endswith("\n? "):
            assert time.monotonic() < deadline, self.text[start:]
            assert self.process.poll() is None or not self.chunks.empty(), self.text
            try:
                self.text += self.chunks.get(timeout=0.5)
            except queue.Empty:
                continue
        return self.text[start:]

    def ask(self, line: str) -> str:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        return self._until_prompt()

    def close(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)


def test_a_running_chat_sees_papers_other_processes_add_and_delete(tmp_path: Path, server: FakeOpenAI) -> None:
    home = tmp_path / "home"
    base, _ = papers_file(tmp_path, "harbour", "2405", 20)
    env = env_for(home, server)
    assert finish(cli(env, "ingest", str(base)))[0] == 0
    question = "What do walrus herds do on narwhal ice floes?"
    walrus = tmp_path / "walrus.jsonl"
    walrus.write_text(
        json.dumps(
            {
                "id": "2406.00001",
                "title": "Walrus herds on narwhal ice floes",
                "abstract": "Walrus herds rest on narwhal ice floes. Walrus herds dive from the ice floes to feed.",
            }
        )
        + "\n"
    )
    chat = Chat(env)
    try:
        before = chat.ask(question)
        assert before.strip() and "Walrus herds on narwhal ice floes" not in before
        assert finish(cli(env, "ingest", str(walrus)))[0] == 0  # another process adds it
        answer = chat.ask(question)
        assert "[1] Walrus herds on narwhal ice floes" in answer, answer
        assert finish(cli(env, "delete", "2406.00001"))[0] == 0  # another process deletes it
        after = chat.ask(question)
        assert "Walrus herds on narwhal ice floes" not in after and "error" not in after.lower(), after
        assert "Walrus" not in chat.ask("/sources")
    finally:
        chat.close()
    assert chat.process.returncode == 0, chat.text


def test_an_engine_that_stays_open_sees_other_processes_changes(tmp_path: Path, server: FakeOpenAI) -> None:
    """The bot's path: one Engine for the whole run, asking through `ask` from worker threads."""
    home = tmp_path / "home"
    base, _ = papers_file(tmp_path, "lagoon", "2407", 20)
    env = env_for(home, server)
    assert finish(cli(env, "ingest", str(base)))[0] == 0
    engine = engine_for(home, server)
    assert engine.ask("harbour seals").citations is not None  # opened and warm
    extra, rows = papers_file(tmp_path, "fjord", "2408", 5)
    assert finish(cli(env, "ingest", str(extra)))[0] == 0
    found = engine.search(rows[2]["title"], k=1)
    assert found[0].paper.id == rows[2]["id"]
    assert finish(cli(env, "delete", rows[2]["id"]))[0] == 0
    for mode in ("dense", "bm25", "hybrid"):
        assert rows[2]["id"] not in {r.paper.id for r in engine.search(rows[2]["title"], k=10, mode=mode)}
    answer = engine.ask(rows[2]["title"])
    assert rows[2]["id"] not in {c.paper.id for c in answer.citations}
