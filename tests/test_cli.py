"""The CLI in-process: JSON shapes, exit codes, one-line errors. Uses the real model (the sample
library of tests/conftest.py), except where the embedder does not matter."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from connectors.cli import app
from tests.openai_server import FakeOpenAI, cite

runner = CliRunner()


def run(*args: str, input: str | None = None):
    return runner.invoke(app, list(args), input=input)


@pytest.fixture
def sample_env(monkeypatch: pytest.MonkeyPatch, sample_home: Path) -> None:
    monkeypatch.setenv("PAPERBOT_HOME", str(sample_home))


def test_search_json_shape(sample_env: None) -> None:
    result = run("search", "grokking in transformers", "-k", "3", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["query"] == "grokking in transformers"
    assert [r["rank"] for r in data["results"]] == [1, 2, 3]
    first = data["results"][0]
    assert set(first) >= {"rank", "paper_id", "title", "score", "date", "url"}
    assert isinstance(first["score"], float) and "Grok" in first["title"]


def test_ask_json_shape_and_citations(sample_env: None) -> None:
    result = run("ask", "Do transformers generalize to longer inputs?", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) >= {"question", "answer", "refused", "engine", "citations"}
    assert data["refused"] is False and data["engine"] == "extractive"
    assert [c["n"] for c in data["citations"]] == list(range(1, len(data["citations"]) + 1))
    for citation in data["citations"]:
        assert f"[{citation['n']}]" in data["answer"]
        assert set(citation) >= {"n", "paper_id", "title", "url"}


def test_ask_refuses_in_plain_words(sample_env: None) -> None:
    result = run("ask", "How do I repair a leaking bathroom faucet?")
    assert result.exit_code == 0
    assert "Not found" in result.stdout


def test_ask_text_lists_sources(sample_env: None) -> None:
    result = run("ask", "What is grokking?")
    assert result.exit_code == 0
    assert "Sources" in result.stdout and "[1]" in result.stdout


def test_filters_on_search(sample_env: None) -> None:
    result = run("search", "generalization", "-k", "20", "--since", "2025-01-01", "--json")
    dates = [r["date"] for r in json.loads(result.stdout)["results"]]
    assert dates and all(d is not None and d >= "2025-01-01" for d in dates)


def test_first_use_ingests_the_sample_library(monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeOpenAI() as server:  # what is checked is the first use, not the model: embed fast
        monkeypatch.setenv("PAPERBOT_EMBEDDING_PROVIDER", "openai")
        monkeypatch.setenv("PAPERBOT_EMBEDDING_MODEL", "e")
        monkeypatch.setenv("PAPERBOT_EMBEDDING_BASE_URL", server.base_url)
        result = run("search", "grokking", "--json")
        stats = json.loads(run("stats", "--json").stdout)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["results"] and "ingesting the bundled sample library" in result.stderr
    assert stats["papers"] == 211 and stats["by_source"] == {"daily-papers": 211}


def test_ingest_json_and_idempotence(data: Path) -> None:
    first = run("ingest", str(data / "plain.jsonl"), str(data / "plain.csv"), "--json")
    assert first.exit_code == 0, first.output
    report = json.loads(first.stdout)
    assert (report["added"], report["updated"], report["unchanged"], report["skipped"]) == (3, 0, 0, 2)
    assert "errors" not in report  # an error stops the run with one line; it is never a field
    again = json.loads(run("ingest", str(data / "plain.jsonl"), str(data / "plain.csv"), "--json").stdout)
    assert (again["added"], again["unchanged"]) == (0, 3)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("ingest", "missing.jsonl"), "no such file"),
        (("ingest", "empty.jsonl"), "file is empty"),
        (("ingest", "binary.csv"), "binary file"),
        (("ingest", "good.jsonl", "binary.csv"), "binary file"),  # checked before good.jsonl is written
        (("ingest", "notes.txt"), "unknown format"),
        (("ingest", "--format", "xml", "broken.jsonl"), "unknown format 'xml'"),
        (("ask", "  "), "the question is empty"),
        (("search", "x", "--since", "yesterday"), "--since expects a date"),
        (("ask", "x", "--source", "web"), "--source must be one of"),
    ],
)
def test_bad_input_is_one_line_and_nonzero_and_changes_nothing(
    tmp_path: Path, data: Path, args: tuple[str, ...], message: str
) -> None:
    (tmp_path / "empty.jsonl").write_bytes(b"")
    (tmp_path / "binary.csv").write_bytes(b"\x00\x01\x02binary")
    (tmp_path / "broken.jsonl").write_text('{"title": "a", "abstract": "b"}\n{nope\n')
    (tmp_path / "good.jsonl").write_text('{"title": "A new paper", "abstract": "About things."}\n')
    (tmp_path / "notes.txt").write_text("hello\nworld\n")
    assert run("ingest", str(data / "plain.csv")).exit_code == 0
    before = run("stats", "--json").stdout
    result = run(*args)
    assert result.exit_code == 1
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.output
    assert run("stats", "--json").stdout == before


def test_a_bad_line_is_rejected_with_its_number_and_the_rest_ingested(tmp_path: Path) -> None:
    lines = [
        '{"title": "Kept Paper One", "abstract": "First."}',
        "{nope",
        '{"title": "Kept Paper Two", "abstract": "2."}',
    ]
    (tmp_path / "mixed.jsonl").write_text("\n".join(lines) + "\n")
    result = run("ingest", str(tmp_path / "mixed.jsonl"), "--json")
    report = json.loads(result.stdout)
    assert result.exit_code == 0
    assert (report["added"], report["skipped"]) == (2, 1)
    assert report["skipped_reasons"][0].startswith("mixed.jsonl:2: malformed JSON")
    shown = run("ingest", str(tmp_path / "mixed.jsonl"))
    assert "skipped: mixed.jsonl:2: malformed JSON" in shown.stdout


def test_health_reports_the_library_and_fails_on_a_bad_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    status = json.loads(run("health", "--json").stdout)
    assert status["ok"] is True and status["chroma"] == "embedded" and status["papers"] == 0
    monkeypatch.setenv("PAPERBOT_CHUNKING_SIZE", "-1")
    assert run("health").exit_code == 1


def test_paper_shows_a_record_and_unknown_ids_fail(data: Path) -> None:
    run("ingest", str(data / "plain.jsonl"))
    result = run("paper", "2101.00001", "--json")
    assert json.loads(result.stdout)["title"] == "Second Plain Paper"
    missing = run("paper", "9999.99999")
    assert missing.exit_code == 1 and "no paper with id" in missing.stderr


def test_delete_removes_a_paper_and_unknown_ids_fail(data: Path) -> None:
    run("ingest", str(data / "plain.jsonl"))
    result = run("delete", "2101.00001", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"deleted": [{"paper_id": "2101.00001", "title": "Second Plain Paper"}]}
    assert run("paper", "2101.00001").exit_code == 1
    found = json.loads(run("search", "coral reefs bleach", "--mode", "bm25", "--json").stdout)["results"]
    assert "Second Plain Paper" not in [r["title"] for r in found]
    again = run("delete", "2101.00001")
    assert again.exit_code == 1 and "no paper with id '2101.00001'" in again.stderr
    assert json.loads(run("stats", "--json").stdout)["papers"] == 1


def test_eval_json_on_the_current_library(sample_env: None, tmp_path: Path) -> None:
    questions = tmp_path / "q.jsonl"
    questions.write_text(
        '{"question": "Which papers study grokking?", "relevant_titles": '
        '["Benign Overfitting and Grokking in ReLU Networks for XOR Cluster Data", "Not A Real Title"]}\n'
        '{"question": "How do I descale a kettle?", "relevant_titles": []}\n'
    )
    result = run("eval", str(questions), "--mode", "dense", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["mode"] == "dense" and (report["questions"], report["answerable"]) == (2, 1)
    assert report["recall@10"] == 0.5 and report["refusal_accuracy"] == 1.0
    assert report["missing_from_library"] == ["Not A Real Title"]
    assert set(report) >= {"recall@5", "mrr", "ndcg@10", "search_latency_median_ms", "misses", "answers"}
    assert report["answers"]["answered_unanswerable"] == 0 and report["answers"]["refused_answerable"] == 0
    assert 0 <= report["answers"]["citation_precision"] <= 1
    text = run("eval", str(questions))
    assert "recall@10" in text.stdout and "not in the library: Not A Real Title" in text.stdout


def test_eval_reads_a_topics_file_through_summarize(sample_env: None, tmp_path: Path) -> None:
    topics = tmp_path / "t.jsonl"
    topics.write_text(
        '{"topic": "grokking in neural networks", "relevant_titles": '
        '["Benign Overfitting and Grokking in ReLU Networks for XOR Cluster Data"]}\n'
    )
    report = json.loads(run("eval", str(topics), "--json").stdout)
    assert report["kind"] == "topics" and report["topics"] == 1 and report["inclusion_recall"] == 1.0
    assert 0 < report["inclusion_precision"] <= 1 and 1 <= report["themes_per_summary"] <= 6
    text = run("eval", str(topics)).stdout
    assert "inclusion_precision" in text and "grokking in neural networks" in text


def test_eval_needs_a_library_and_a_valid_file(tmp_path: Path) -> None:
    questions = tmp_path / "q.jsonl"
    questions.write_text('{"question": "x", "relevant_titles": []}\n')
    empty = run("eval", str(questions))
    assert empty.exit_code == 1 and "library is empty" in empty.stderr
    bad_mode = run("search", "x", "--mode", "sparse")
    assert bad_mode.exit_code == 2 and "sparse" in bad_mode.output


def test_config_masks_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-very-secret")
    monkeypatch.setenv("PAPERBOT_RETRIEVAL_K", "7")
    result = run("config", "--json")
    assert "sk-test-very-secret" not in result.output
    data = json.loads(result.stdout)
    assert data["openai_api_key"] == "****" and data["retrieval"]["k"] == 7


def test_chat_session(sample_env: None) -> None:
    script = "What is grokking?\n/sources\n/reset\n/sources\n/nope\n\n/help\n"
    result = run("chat", input=script)
    assert result.exit_code == 0, result.output
    assert "[1]" in result.stdout and "Sources" in result.stdout
    assert "No question asked yet." in result.stdout
    assert "Unknown command /nope" in result.stdout and "/reset" in result.stdout


def test_empty_question_fails_before_the_first_use_ingest() -> None:
    result = run("ask", "")
    assert result.exit_code == 1 and "empty" in result.stderr
    assert "ingesting" not in result.stderr


def test_unexpected_failures_are_one_line_with_exit_2(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(self: object) -> None:
        raise OSError("disk on fire")

    monkeypatch.setattr("assistant.engine.Engine.stats", broken)
    result = run("stats")
    assert result.exit_code == 2
    assert result.stderr.strip() == "error: unexpected OSError: disk on fire (PAPERBOT_DEBUG=1 shows more)"


def test_unreachable_chroma_server_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAPERBOT_CHROMA_URL", "http://127.0.0.1:9")
    result = run("stats")
    assert result.exit_code == 1
    assert "cannot reach the Chroma server at http://127.0.0.1:9" in result.stderr


def test_a_bad_setting_is_one_line_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAPERBOT_RETRIEVAL_MODE", "sparse")
    result = run("search", "x")
    assert result.exit_code == 1
    assert result.stderr.strip().startswith("error: invalid setting retrieval.mode (PAPERBOT_RETRIEVAL_MODE")
    assert len(result.stderr.strip().splitlines()) == 1


def test_retrieval_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in (("MODE", "bm25"), ("FUSION_K", "30"), ("TITLE_WEIGHT", "0"), ("MIN_SCORE", "0.5")):
        monkeypatch.setenv(f"PAPERBOT_RETRIEVAL_{name}", value)
    retrieval = json.loads(run("config", "--json").stdout)["retrieval"]
    assert (retrieval["mode"], retrieval["fusion_k"], retrieval["title_weight"]) == ("bm25", 30.0, 0.0)
    assert retrieval["min_score"] == 0.5 and retrieval["k"] == 5


@pytest.fixture
def llm_server(monkeypatch: pytest.MonkeyPatch, sample_env: None) -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        monkeypatch.setenv("PAPERBOT_LLM", "openai")
        monkeypatch.setenv("PAPERBOT_LLM_MODEL", "test-model")
        monkeypatch.setenv("PAPERBOT_LLM_BASE_URL", fake.base_url)
        monkeypatch.setenv("PAPERBOT_LLM_RETRIES", "0")
        yield fake


def test_ask_json_with_an_llm_cites_listed_papers_numbered_in_order_of_use(llm_server: FakeOpenAI) -> None:
    llm_server.replies = [cite(3, 1, 3, extra=" A claim about nothing [8].")]
    result = run("ask", "Which papers study length generalization in transformers?", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["engine"] == "openai:test-model" and data["refused"] is False
    used = [int(n) for n in re.findall(r"\[(\d+)\]", data["answer"])]
    assert list(dict.fromkeys(used)) == [1, 2]  # numbered from 1 in order of first use
    assert [c["n"] for c in data["citations"]] == [1, 2]
    retrieved = {r["paper_id"] for r in data["retrieved"]}
    assert all(c["paper_id"] in retrieved for c in data["citations"])
    assert data["unsupported_count"] == len(data["unsupported"]) == 0 and data["notice"] is None


def test_ask_streams_text_to_the_terminal(llm_server: FakeOpenAI) -> None:
    llm_server.replies = [cite(1, 2)]
    result = run("ask", "Which papers study length generalization in transformers?")
    assert result.exit_code == 0, result.output
    assert llm_server.chat_requests()[-1]["stream"] is True
    assert "[1]" in result.stdout and "Sources" in result.stdout


def test_chat_answers_a_follow_up_that_needs_the_history(
    llm_server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    standalone = "Which papers on length generalization in transformers study positional encodings?"
    llm_server.replies = [cite(1, 2), standalone, cite(1)]
    result = run("chat", input="Which papers study length generalization?\nand which of them look at positions?\n")
    assert result.exit_code == 0, result.output
    rewrite = llm_server.chat_requests()[1]["messages"][-1]["content"]
    assert "Which papers study length generalization?" in rewrite and "which of them" in rewrite
    assert f"Question: {standalone}" in llm_server.chat_requests()[2]["messages"][-1]["content"]
    assert f"(searched for: {standalone})" in result.stdout


def test_killing_the_server_mid_conversation_falls_back_with_one_line(
    llm_server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = iter(["What is grokking?", "And how does it relate to memorization?"])

    def user() -> str | None:
        line = next(lines, None)
        if line == "And how does it relate to memorization?":
            llm_server.stop()  # the server dies between two turns
        return line

    monkeypatch.setattr("connectors.cli.chat.read_line", user)
    llm_server.replies = [cite(1)]
    result = run("chat")
    assert result.exit_code == 0, result.output
    notices = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(notices) == 1 and "answer is unavailable" in notices[0] and "cannot connect" in notices[0]
    assert result.stdout.count("Sources") == 2  # the second answer is the extractive one, with its sources


def test_discord_without_a_token_is_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    result = run("discord")
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "error: set DISCORD_TOKEN (or PAPERBOT_DISCORD_TOKEN) to the bot's token; see the README"
    )


def test_the_discord_token_is_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "very-secret-token")
    result = run("config", "--json")
    assert "very-secret-token" not in result.output and json.loads(result.stdout)["discord_token"] == "****"
