"""Issue 16, the model's reply: an OpenAI-compatible server is not trusted. `paperbot ask`
(in-process through CliRunner, the real entry point) against a hostile server on loopback:
endless and trickling streams, a 20 MB reply, content of the wrong type, every citation
form, terminal control characters. Each ends in a checked answer or a labelled fallback,
within the deadline plus a second, never a traceback or the "unexpected" catch-all."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from assistant.citations import rewrite
from assistant.engine import FALLBACK
from connectors.cli import app
from connectors.terminal_text import printable
from tests.hostile_server import HostileServer

DEADLINE = 3.0
QUESTION = "What is grokking?"
ESC = "\x1b"


@pytest.fixture
def hostile(monkeypatch: pytest.MonkeyPatch, sample_home: Path) -> Iterator[HostileServer]:
    import openai  # noqa: F401  (imported once here: a slow import is start-up, not the answer's time)

    with HostileServer() as server:
        monkeypatch.setenv("PAPERBOT_HOME", str(sample_home))
        monkeypatch.setenv("PAPERBOT_LLM", "openai")
        monkeypatch.setenv("PAPERBOT_LLM_BASE_URL", server.base_url)
        monkeypatch.setenv("PAPERBOT_LLM_MODEL", "hostile")
        monkeypatch.setenv("PAPERBOT_LLM_TIMEOUT", str(DEADLINE))
        monkeypatch.setenv("PAPERBOT_LLM_RETRIES", "0")
        yield server


def ask(*args: str) -> tuple[Result, float]:
    started = time.monotonic()
    result = CliRunner().invoke(app, ["ask", QUESTION, *args])
    return result, time.monotonic() - started


def extractive_seconds(monkeypatch: pytest.MonkeyPatch) -> float:
    """The same command without a model: paperbot's own time on this (busy) machine. The
    LLM path does that work about twice (checking sentences, then maybe the fallback)."""
    with monkeypatch.context() as local:
        local.setenv("PAPERBOT_LLM", "extractive")
        result, seconds = ask("--json")
    assert result.exit_code == 0
    return seconds


def assert_clean(result: Result) -> None:
    assert result.exit_code == 0, result.output
    assert "unexpected" not in result.output and "Traceback" not in result.output
    assert ESC not in result.output


@pytest.mark.parametrize("mode", ["endless", "trickle"])  # nothing usable ever arrives
@pytest.mark.parametrize("streamed", [True, False])
def test_a_reply_that_never_ends_stops_at_the_deadline(
    hostile: HostileServer, monkeypatch: pytest.MonkeyPatch, mode: str, streamed: bool
) -> None:
    own = extractive_seconds(monkeypatch)
    hostile.mode = mode
    result, seconds = ask() if streamed else ask("--json")
    assert_clean(result)
    assert seconds < DEADLINE + 1 + 2 * own
    if not streamed:
        data = json.loads(result.stdout)
        assert data["notice"] and data["citations"]
        assert data["engine"] == FALLBACK and "deadline" in data["notice"]


def test_past_the_deadline_the_checked_sentences_that_arrived_are_kept_labelled(hostile: HostileServer) -> None:
    hostile.mode = "slow"  # distinct sentences, one a second, without end
    result, _ = ask("--json")
    data = json.loads(result.stdout)
    assert data["engine"] == "openai:hostile" and "cut short" in data["notice"] and "deadline" in data["notice"]
    assert data["citations"] and re.search(r"\[1\]", data["answer"])


def test_an_endless_loop_is_stopped_at_the_first_repeat(hostile: HostileServer) -> None:
    hostile.mode = "loop"  # the same sentence again and again, forever
    result, _ = ask("--json")
    data = json.loads(result.stdout)
    assert data["engine"] == "openai:hostile" and data["answer"].count("Models are studied here") == 1


def test_a_20_mb_reply_is_cut_and_never_hangs(hostile: HostileServer, monkeypatch: pytest.MonkeyPatch) -> None:
    own = extractive_seconds(monkeypatch)
    for streamed in (True, False):
        hostile.mode = "huge"
        result, seconds = ask() if streamed else ask("--json")
        assert_clean(result)
        assert seconds < DEADLINE + 1 + 2 * own
        assert len(result.stdout) < 50_000


@pytest.mark.parametrize("mode", ["number", "object", "null_message"])
def test_content_of_the_wrong_type_falls_back(hostile: HostileServer, mode: str) -> None:
    hostile.mode = mode
    for args in ((), ("--json",)):
        result, _ = ask(*args)
        assert_clean(result)
        assert ("extractive" in result.output and "Sources" in result.output) or '"citations"' in result.output
    chat = CliRunner().invoke(app, ["chat"], input="What is grokking?\nand which of them use transformers?\n")
    assert_clean(chat)  # the follow-up's rewrite (a whole reply) meets the same wrong types
    assert chat.stdout.count("Sources") == 2


CITATION_FORMS = {
    "[" + "7" * 5000 + "]": [],
    "[-1]": [],
    "[1-3]": [1, 2, 3],
    "[1, 3]": [1, 3],
    "[^1]": [],
    "[¹]": [],
    "[0]": [],
    "[2-1]": [],
    "[1-999999]": [1, 2, 3],
}


@pytest.mark.parametrize(("marker", "numbers"), CITATION_FORMS.items(), ids=lambda v: str(v)[:12])
def test_every_citation_form_names_only_listed_sources(marker: str, numbers: list[int]) -> None:
    text, rewriter = rewrite(f"Grokking is delayed generalization {marker}.", sources=3)
    assert rewriter.order == numbers
    markers = "".join(f"[{n}]" for n in range(1, len(numbers) + 1))
    assert text == "Grokking is delayed generalization" + (f" {markers}" if markers else "") + "."


def test_citation_forms_through_the_cli_show_no_marker_that_is_not_a_listed_source(hostile: HostileServer) -> None:
    forms = " ".join(f"Grokking is delayed generalization in small networks {m}." for m in CITATION_FORMS)
    hostile.reply = forms + " Grokking follows memorization [" + "9" * 5000
    result, _ = ask("--json")
    assert_clean(result)
    data = json.loads(result.stdout)
    markers = re.findall(r"\[[^\]]*\]", data["answer"])
    assert markers and all(re.fullmatch(r"\[\d+\]", m) for m in markers)
    assert {int(m[1:-1]) for m in markers} == {c["n"] for c in data["citations"]}
    assert "9999" not in data["answer"] and "^" not in data["answer"] and "¹" not in data["answer"]


def test_control_characters_in_a_reply_never_reach_the_terminal(hostile: HostileServer) -> None:
    hostile.reply = (
        "Grokking is delayed \x1b[2J\x1b[31mgeneralization\x1b[0m [1]. "
        "It \x1b]0;pwned\x07follows memorization\x9b2J \x07\x08 in networks [1]."
    )
    result, _ = ask()
    assert_clean(result)
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", result.stdout)
    assert "pwned" not in result.stdout


def test_printable_strips_escapes_and_controls_but_keeps_text() -> None:
    hostile = "a\x1b[31mred\x1b[0m b\x1b]8;;http://x\x07link\x1b]8;;\x07 c\u202ed\x00\ne\tf"
    assert printable(hostile) == "ared blink cd\ne\tf"
    assert printable("naïve 日本語 [1]") == "naïve 日本語 [1]"


CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def test_control_characters_in_titles_and_abstracts_never_reach_the_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAPERBOT_HOME", str(tmp_path / "home"))
    evil = {
        "title": "Grokking \x1b[2J\x1b]0;pwned\x07Late",
        "abstract": "Grokking \x1b[31mis\x9b2J delayed generalization after overfitting. \x07It \x08surprises.",
    }
    (tmp_path / "evil.jsonl").write_text(json.dumps(evil) + "\n")
    assert CliRunner().invoke(app, ["ingest", str(tmp_path / "evil.jsonl")]).exit_code == 0
    found = CliRunner().invoke(app, ["search", "grokking", "--json"])
    assert not CONTROL.search(found.stdout)  # JSON escapes them
    paper_id = json.loads(found.stdout)["results"][0]["paper_id"]
    for args in (["search", "grokking"], ["paper", paper_id], ["ask", "What is grokking after overfitting?"]):
        result = CliRunner().invoke(app, args)
        assert_clean(result)
        assert not CONTROL.search(result.stdout) and "Grokking" in result.stdout
