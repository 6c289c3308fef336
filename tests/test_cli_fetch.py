"""`paperbot fetch` in-process against the loopback feed server, with the real model:
what a person sees, exit codes, one-line errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from connectors.cli import app
from tests.feed_server import Canned, FeedServer

SAMPLES = Path(__file__).parent / "data" / "feeds"
runner = CliRunner()


def run(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, ["fetch", *args])


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FeedServer]:
    with FeedServer() as running:
        monkeypatch.setenv("PAPERBOT_FEEDS_DAILY_PAPERS_URL", running.base_url + "/api/daily_papers")
        monkeypatch.setenv("PAPERBOT_FEEDS_ARXIV_API_URL", running.base_url + "/api/query")
        monkeypatch.setenv("PAPERBOT_FEEDS_ARXIV_RSS_URL", running.base_url + "/rss")
        monkeypatch.setenv("PAPERBOT_FEEDS_ARXIV_INTERVAL", "0")
        monkeypatch.setenv("PAPERBOT_FEEDS_BACKOFF", "0")
        yield running


def one_error_line(output: str) -> str:
    lines = output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "unexpected" not in lines[0], output
    return lines[0]


def test_fetch_daily_papers_then_again_changes_nothing(server: FeedServer) -> None:
    body = (SAMPLES / "hf_daily_papers_2024-04-04_raw.json").read_bytes()
    server.serve("/api/daily_papers", Canned(body, content_type="application/json"))
    first = run("daily-papers", "--date", "2024-04-04")
    assert first.exit_code == 0, first.output
    assert first.stdout.startswith("daily-papers: 8 papers fetched; 8 added, 0 updated, 0 unchanged, 0 skipped")
    again = run("daily-papers", "--date", "2024-04-04", "--json")
    assert again.exit_code == 0, again.output
    data = json.loads(again.stdout)
    assert (data["fetched"], data["added"], data["updated"], data["unchanged"]) == (8, 0, 0, 8)
    found = runner.invoke(app, ["search", "Mixture-of-Depths dynamically allocating compute", "-k", "1", "--json"])
    assert json.loads(found.stdout)["results"][0]["paper_id"] == "2404.02258"


def test_fetch_an_arxiv_category_and_a_query(server: FeedServer) -> None:
    server.serve("/rss/cs.CL", Canned((SAMPLES / "arxiv_rss_cs_CL_3_items_2026-04_reserialized.xml").read_bytes()))
    server.serve("/api/query", Canned((SAMPLES / "arxiv_api_query_transformer_3_entries_2026-04.xml").read_bytes()))
    category = run("arxiv", "--category", "cs.CL")
    assert category.exit_code == 0 and category.stdout.startswith("arxiv:cs.CL: 3 papers fetched; 3 added")
    query = run("arxiv", "--query", "cat:cs.CV OR ti:transformer", "--max", "3")
    assert query.exit_code == 0
    assert query.stdout.startswith("arxiv-query:cat:cs.CV OR ti:transformer: 3 papers fetched; 3 added")
    listed = runner.invoke(app, ["stats", "--json"])
    assert json.loads(listed.stdout)["by_source"] == {"arxiv": 6}


def test_an_error_entry_is_one_line_and_exit_1(server: FeedServer) -> None:
    server.serve("/api/query", Canned((SAMPLES / "arxiv_api_error_entry_docs_example.xml").read_bytes(), status=400))
    result = run("arxiv", "--query", "id:1234.12345")
    assert result.exit_code == 1
    assert one_error_line(result.output) == "error: arXiv rejected the request: incorrect id format for 1234.12345"


def test_offline_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    with FeedServer() as gone:
        url = gone.base_url
    monkeypatch.setenv("PAPERBOT_FEEDS_ARXIV_RSS_URL", url + "/rss")
    result = run("arxiv", "--category", "cs.LG")
    assert result.exit_code == 1 and "check the network" in one_error_line(result.output)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["arxiv"], "give either --category"),
        (["arxiv", "--category", "cs.LG", "--query", "x"], "give either --category"),
        (["arxiv", "--query", "x", "--since", "2026-01-01"], "--since goes with --category"),
        (["arxiv", "--category", "<script>"], "is not an arXiv category"),
        (["arxiv", "--category", "cs.LG", "--since", "yesterday"], "--since expects a date"),
        (["daily-papers", "--date", "2024-13-01"], "--date expects a date"),
    ],
)
def test_bad_arguments_are_one_line(args: list[str], message: str) -> None:
    result = run(*args)
    assert result.exit_code == 1 and message in one_error_line(result.output)
