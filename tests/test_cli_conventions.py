"""The command line's conventions: version, help, stdin, -k, --home, labels, newlines, history."""

from __future__ import annotations

import json
import re
from importlib.metadata import version
from pathlib import Path

import pytest

from tests.test_cli import run


@pytest.fixture
def sample_env(monkeypatch: pytest.MonkeyPatch, sample_home: Path) -> None:
    monkeypatch.setenv("PAPERBOT_HOME", str(sample_home))


def listed_commands(help_text: str) -> set[str]:
    """The names in the help's Commands section (not words elsewhere in the text)."""
    section = help_text.split("Commands:", 1)[1]
    return {match.group(1) for match in re.finditer(r"^  (\S+)", section, re.MULTILINE)}


def test_version_prints_the_installed_version() -> None:
    result = run("--version")
    assert result.exit_code == 0 and result.stdout.strip() == f"paperbot {version('paperbot')}"


def test_help_lists_every_registered_command_and_takes_h() -> None:
    from connectors.cli import app

    registered = {command.name or command.callback.__name__ for command in app.registered_commands if command.callback}
    registered |= {group.name for group in app.registered_groups if group.name}
    for flag in ("-h", "--help"):
        result = run(flag)
        assert result.exit_code == 0
        assert listed_commands(result.stdout) == registered


def test_option_help_shows_metavars_not_types() -> None:
    result = run("ask", "-h")
    assert result.exit_code == 0
    assert "<bool>" not in result.stdout and "<str>" not in result.stdout.split("Options:", 1)[1]
    assert "--since YYYY-MM-DD" in result.stdout and "-k, --k N" in result.stdout


def test_ask_dash_reads_the_question_from_stdin(sample_env: None) -> None:
    result = run("ask", "-", "--json", input="What is grokking?\n")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["question"] == "What is grokking?"


def test_ask_k_sets_how_many_papers_are_read(sample_env: None) -> None:
    for k in (1, 3):
        data = json.loads(run("ask", "Which papers study grokking?", "-k", str(k), "--json").stdout)
        assert len(data["retrieved"]) == k and len(data["citations"]) <= k


def test_global_home_option_picks_the_library(sample_home: Path) -> None:
    result = run("--home", str(sample_home), "stats", "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)["papers"] == 211


def test_an_empty_library_without_the_sample_says_how_to_ingest(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAPERBOT_AUTO_SAMPLE", "false")
    result = run("ask", "What is grokking?")
    assert result.exit_code == 1 and "paperbot ingest PATH" in result.stderr


def test_search_labels_its_figure(sample_env: None) -> None:
    lines = run("search", "grokking", "-k", "3").stdout.strip().splitlines()
    assert "similarity" in lines[0]
    assert all(re.match(r"^ *\d+\. similarity 0\.\d\d ", line) for line in lines[1:]) and len(lines) == 4


def test_date_filters_say_how_many_undated_papers_they_left_out(sample_env: None) -> None:
    undated = json.loads(run("stats", "--json").stdout)["by_year"].get("unknown", 0)
    assert undated > 0
    result = run("search", "generalization", "--since", "2020-01-01", "--json")
    assert f"{undated} undated papers left out by --since/--until" in result.stderr
    assert "undated" not in run("search", "generalization", "--json").stderr


def test_chat_sources_use_the_answers_numbers(sample_env: None) -> None:
    result = run("chat", input="Which papers study grokking?\n/sources\n")
    answer_part, sources_part = result.stdout.split("\n? ")[1:3]
    cited = re.findall(r"^  \[(\d+)\] (.+?) \(", answer_part, re.MULTILINE)
    assert cited
    for n, title in cited:
        assert f"  [{n}] {title} (" in sources_part


def test_every_message_ends_its_line(sample_env: None) -> None:
    refused = run("summarize", "medieval tapestry restoration techniques")
    assert refused.exit_code == 0 and refused.stdout.endswith("\n")
    not_found = run("ask", "How do I repair a leaking bathroom faucet?")
    assert not_found.stdout.endswith("\n")


def test_chat_keeps_a_history_file_in_the_home(sample_env: None, sample_home: Path) -> None:
    pytest.importorskip("readline")
    history = sample_home / "chat_history"
    history.write_text("an earlier question\n")
    run("chat", input="What is grokking?\n/help\n")
    assert history.read_text().splitlines()[-3:] == ["an earlier question", "What is grokking?", "/help"]
