"""The LLM path against a real model: SmolLM2-135M on llama.cpp's server, started by
paperbot's local engine (one server for the session, see tests/local_llm.py), over the
bundled sample library embedded with the real MiniLM model.

A 135M model's words are poor and vary; the tests check the shape of what users get:
citations only to listed sources, numbered in order, every sentence cited or flagged,
streaming that shows exactly the checked text, labelled fallbacks, never a traceback.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import discord.ext.test as dpytest
import pytest
import pytest_asyncio
from typer.testing import CliRunner

from assistant.engine import FALLBACK, Engine
from assistant.llm import ChatClient
from assistant.local_model import LocalModelServer, healthy
from assistant.models import Answer
from assistant.settings import Settings
from assistant.text import split_sentences
from connectors.cli import app
from connectors.discord_bot import PaperbotBot
from tests import discord_harness as harness
from tests.local_llm import local_llm
from tests.openai_server import FakeOpenAI

MARKER = re.compile(r"\[[^\]]*\]")
QUESTION = "What is grokking?"


def engine_for(home: Path, **llm: Any) -> Engine:
    return Engine(Settings(home=home, llm=local_llm(**llm), retrieval={"k": 3}))


def assert_checked(answer: Answer, pieces: list[str] | None = None) -> None:
    """What a user may be shown: a cited generated answer, or the labelled extractive one."""
    assert not answer.refused  # the gate passed: never "Not found"
    listed = {s.paper.id for s in answer.sources}
    assert answer.citations and {c.paper.id for c in answer.citations} <= listed
    markers = MARKER.findall(answer.text)
    assert all(re.fullmatch(r"\[\d+\]", m) for m in markers), markers
    assert {int(m[1:-1]) for m in markers} == {c.n for c in answer.citations}  # no invented source shown
    if answer.engine == FALLBACK:
        assert answer.notice and "extractive" in answer.notice
        return
    assert answer.engine.startswith("local:")
    sentences = split_sentences(answer.text)
    for sentence in sentences:
        assert MARKER.search(sentence) or sentence in answer.unsupported, sentence
    claims = [MARKER.sub("", s).strip().casefold() for s in sentences]
    assert len(set(claims)) == len(claims)  # no loop reaches the user
    if pieces is not None:
        assert "".join(pieces) == answer.text  # streamed exactly the checked sentences


def test_the_server_is_up_and_answers_health(smollm2: LocalModelServer) -> None:
    assert smollm2.base_url.startswith("http://127.0.0.1:") and smollm2.base_url.endswith("/v1")
    assert healthy(smollm2.base_url.removesuffix("/v1"))


def test_a_streamed_answer_shows_only_checked_sentences(smollm2: LocalModelServer, sample_home: Path) -> None:
    engine = engine_for(sample_home)
    pieces: list[str] = []
    answer = engine.ask(QUESTION, on_token=pieces.append)
    assert_checked(answer, pieces if answer.engine != FALLBACK else None)
    assert engine.generator is not None and engine.generator.llm.server is smollm2  # shared, not a second server


def test_a_follow_up_is_condensed_by_the_model(smollm2: LocalModelServer, sample_home: Path) -> None:
    engine = engine_for(sample_home)
    first = engine.ask(QUESTION)
    second = engine.ask("and which of them study memorization?", history=[first])
    assert_checked(first)
    assert_checked(second)
    assert second.standalone is None or (0 < len(second.standalone) <= 500 and "\n" not in second.standalone)


def test_a_deadline_the_model_cannot_meet_falls_back_in_time(smollm2: LocalModelServer, sample_home: Path) -> None:
    engine = engine_for(sample_home, timeout=0.05)
    started = time.monotonic()
    engine.answerer.answer(QUESTION, engine.search(QUESTION))  # what paperbot itself takes (a busy CPU)
    own_work = time.monotonic() - started
    started = time.monotonic()
    answer = engine.ask(QUESTION, on_token=lambda _: None)
    assert time.monotonic() - started < 0.05 + 1 + own_work
    assert answer.engine == FALLBACK and answer.notice and "deadline" in answer.notice
    assert_checked(answer)


def test_the_cli_answers_with_the_local_model(
    smollm2: LocalModelServer, sample_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_local_env(monkeypatch, sample_home)
    result = CliRunner().invoke(app, ["ask", QUESTION, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["engine"] in (FALLBACK, f"local:{smollm2.alias}") and data["citations"]
    assert {int(m) for m in re.findall(r"\[(\d+)\]", data["answer"])} == {c["n"] for c in data["citations"]}


def set_local_env(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    monkeypatch.setenv("PAPERBOT_HOME", str(home))
    for key, value in local_llm().items():
        env = "PAPERBOT_LLM" if key == "engine" else f"PAPERBOT_LLM_{key.upper()}"
        monkeypatch.setenv(env, str(value))
    monkeypatch.setenv("PAPERBOT_RETRIEVAL_K", "3")


def model_servers() -> set[int]:
    """Pids of running local-model children (any test's)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"assistant.local_model" in command:
                found.add(int(entry.name))
    return found


def test_a_cli_process_starts_its_own_server_and_stops_it_on_exit(
    smollm2: LocalModelServer, sample_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_local_env(monkeypatch, sample_home)
    before = model_servers()
    command = [sys.executable, "-c", "from connectors.cli import main; main()", "ask", QUESTION, "--json"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=240, env=os.environ.copy())
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["citations"]
    deadline = time.monotonic() + 5
    while model_servers() - before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert model_servers() - before == set()  # its server went with it


@pytest.mark.parametrize(("content", "error"), [(None, "does not exist"), (b"not a model", "not a GGUF")])
def test_a_missing_or_wrong_model_file_is_one_line(
    tmp_path: Path, sample_home: Path, monkeypatch: pytest.MonkeyPatch, content: bytes | None, error: str
) -> None:
    model = tmp_path / "model.gguf"
    if content is not None:
        model.write_bytes(content)
    monkeypatch.setenv("PAPERBOT_LLM", "local")
    monkeypatch.setenv("PAPERBOT_LLM_MODEL_PATH", str(model))
    monkeypatch.setenv("PAPERBOT_HOME", str(sample_home))  # a library to ask, so the model is what fails
    result = CliRunner().invoke(app, ["ask", QUESTION])
    assert result.exit_code == 1 and error in result.stderr and len(result.stderr.strip().splitlines()) == 1


@pytest_asyncio.fixture
async def local_bot(
    smollm2: LocalModelServer, sample_home: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[PaperbotBot, harness.Recorder]]:
    settings = Settings(
        home=sample_home, llm=local_llm(), retrieval={"k": 3}, discord={"cooldown": 0, "stream_interval": 0.2}
    )
    client = harness.make_client(Engine(settings), settings)
    yield client, await harness.connect(client, monkeypatch, members=["alice"])
    await dpytest.empty_queue()


@pytest.mark.asyncio
async def test_discord_streams_the_real_model_by_editing_one_message(local_bot: Any) -> None:
    client, recorder = local_bot
    member, channel = dpytest.get_config().members[0], dpytest.get_config().channels[0]
    await client.tree._call(harness.slash(client, "ask", member, channel, question=QUESTION))
    placeholder, edits = recorder.followups[0], [f["content"] for f in recorder.followups if "edit_of" in f]
    assert placeholder["content"] == "…" and edits
    final = edits[-1]
    assert all(final.replace("\\", "").startswith(e.replace("\\", "").rstrip("…")) for e in edits[:-1] if "_" not in e)
    markers = MARKER.findall(final.replace("\\[", "[").replace("\\]", "]"))
    assert markers and all(re.fullmatch(r"\[\d+\]", m) for m in markers)
    assert any(f.get("embeds") for f in recorder.followups)
    assert all(f.get("allowed_mentions") == {"parse": []} for f in recorder.followups if "edit_of" not in f)


def test_a_model_llama_cpp_cannot_load_is_one_line(
    smollm2: LocalModelServer, tmp_path: Path, sample_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = tmp_path / "broken.gguf"
    model.write_bytes(b"GGUF" + bytes(range(256)) * 4)  # the magic, then junk
    monkeypatch.setenv("PAPERBOT_LLM", "local")
    monkeypatch.setenv("PAPERBOT_LLM_MODEL_PATH", str(model))
    monkeypatch.setenv("PAPERBOT_HOME", str(sample_home))  # a library to ask, so the model is what fails
    result = CliRunner().invoke(app, ["ask", QUESTION])
    assert result.exit_code == 1 and "could not load" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_the_local_engine_sends_its_repetition_penalty(tmp_path: Path) -> None:
    with FakeOpenAI() as fake:
        settings = Settings(home=tmp_path, llm={"engine": "local", "repeat_penalty": 1.3, "max_tokens": 99})
        client = ChatClient(settings, base_url=fake.base_url, model="m")
        client.complete([{"role": "user", "content": "hi"}])
        request = fake.chat_requests()[-1]
        assert request["repeat_penalty"] == 1.3 and request["max_tokens"] == 99
