"""Fetching feeds end to end: a loopback server replays real Daily Papers, arXiv RSS and arXiv
API responses (and failures); the engine is real (embedded Chroma, the fast fake embedder)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from assistant.engine import Engine
from assistant.errors import PaperbotError
from assistant.feeds.fetch import arxiv_category, arxiv_query, daily_papers, fetch_feed
from assistant.feeds.http import FeedError, FeedRejected
from assistant.feeds.state import FetchState
from assistant.settings import Settings
from tests.fakes import HashingEmbedder
from tests.feed_server import Canned, FeedServer

SAMPLES = Path(__file__).parent / "data" / "feeds"
DAILY = "/api/daily_papers"
QUERY = "/api/query"


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


HF_2024 = sample("hf_daily_papers_2024-04-04_raw.json")
HF_NEWER = sample("hf_daily_papers_2026-08-21_newer_schema_first6.json")
RSS_4 = sample("arxiv_rss_cs_LG_AI_CL_statML_4_items_2026-09.xml")
API_NEW_5 = sample("arxiv_api_query_cs_AI_LG_CL_5_entries_2026-07.xml")
API_NEW_3 = sample("arxiv_api_query_transformer_3_entries_2026-04.xml")
API_LEGACY = sample("arxiv_api_legacy_format_query_electron_proton_10_entries_2025-08.xml")
API_NOV = sample("arxiv_api_query_electron_proton_10_entries_2025-11.xml")
API_EMPTY = sample("arxiv_api_id_list_zero_results_2025-11.xml")
API_LEGACY_EMPTY = sample("arxiv_api_legacy_format_id_list_no_entry_2025-08.xml")
API_ERROR = sample("arxiv_api_error_entry_docs_example.xml")
JSON = "application/json"


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as running:
        yield running


def feed_settings(server: FeedServer, **overrides: object) -> dict[str, object]:
    return {
        "daily_papers_url": server.base_url + DAILY,
        "arxiv_api_url": server.base_url + QUERY,
        "arxiv_rss_url": server.base_url + "/rss",
        "arxiv_interval": 0,
        "timeout": 2,
        "retries": 2,
        "backoff": 0,
    } | overrides


@pytest.fixture
def engine(server: FeedServer, tmp_path: Path) -> Engine:
    return Engine(Settings(home=tmp_path / "home", feeds=feed_settings(server)), embedder=HashingEmbedder())


def with_feeds(engine: Engine, server: FeedServer, **overrides: object) -> Engine:
    settings = engine.settings.model_copy(update={"feeds": Settings(feeds=feed_settings(server, **overrides)).feeds})
    return Engine(settings, embedder=engine.embedder)


# ---- each feed ---------------------------------------------------------------------------


def test_daily_papers_for_a_date_are_added_and_findable(server: FeedServer, engine: Engine) -> None:
    server.serve(DAILY, Canned(HF_2024, content_type=JSON))
    result = fetch_feed(engine, daily_papers(date.fromisoformat("2024-04-04")))
    assert (len(result.items), result.report.added) == (8, 8)
    [seen] = server.requests(DAILY)
    assert seen.query == {"date": ["2024-04-04"]} and seen.user_agent.startswith("paperbot/")
    paper = engine.paper("2404.02258")
    assert paper.title.startswith("Mixture-of-Depths: Dynamically allocating compute")
    assert paper.url == "https://arxiv.org/abs/2404.02258" and paper.sources == ("daily-papers",)
    assert paper.authors[0] == "David Raposo" and str(paper.date) == "2024-04-02"
    top = engine.search("Mixture-of-Depths dynamically allocating compute", k=1, mode="bm25")[0]
    assert top.paper.id == "2404.02258"


def test_the_newer_daily_papers_schema_reads_the_same(server: FeedServer, engine: Engine) -> None:
    server.serve(DAILY, Canned(HF_NEWER, content_type=JSON))
    result = fetch_feed(engine, daily_papers())
    assert result.report.added == 6 and not result.skipped
    assert server.requests(DAILY)[0].query == {}  # no --date: the latest list
    assert engine.paper("2608.19880").title.startswith("EnvHarness")


def test_an_arxiv_listing_feed_gives_papers_with_their_announce_type(server: FeedServer, engine: Engine) -> None:
    server.serve("/rss/cs.LG", Canned(RSS_4))
    result = fetch_feed(engine, arxiv_category("cs.LG"))
    assert [item.announce for item in result.items] == ["new", "new", "cross", "replace"]
    assert [item.is_new for item in result.items] == [True, True, True, False]
    assert result.report.added == 4 and result.feed == "arxiv:cs.LG"
    paper = engine.paper("2609.26820")
    assert paper.authors == ("Naser Mansour", "Sidahmed Benabderrahmane", "Ameer Rahwan")
    assert paper.categories == ("cs.LG", "cs.AI") and paper.sources == ("arxiv",)
    assert paper.abstract.startswith("Physiological time series") and "Announce Type" not in paper.abstract


@pytest.mark.parametrize("body", [API_NOV, API_LEGACY], ids=["new-layout", "legacy-layout"])
def test_both_arxiv_api_layouts_read_the_same(server: FeedServer, engine: Engine, body: bytes) -> None:
    server.serve(QUERY, Canned(body))
    result = fetch_feed(engine, arxiv_query("all:electron AND all:proton", limit=10))
    papers = {item.paper.id: item.paper for item in result.items}
    assert len(papers) == 10 and not result.skipped
    assert all(p.url == f"https://arxiv.org/abs/{p.id}" and p.date and p.authors for p in papers.values())
    assert all("  " not in p.abstract and "\n" not in p.title for p in papers.values())
    [seen] = server.requests(QUERY)
    assert seen.query["search_query"] == ["all:electron AND all:proton"] and seen.query["max_results"] == ["10"]


def test_the_two_layouts_agree_on_a_paper_in_both(server: FeedServer, engine: Engine) -> None:
    server.serve(QUERY, Canned(API_NOV))
    new = {i.paper.id: i.paper for i in fetch_feed(engine, arxiv_query("all:electron", limit=10)).items}
    server.serve(QUERY, Canned(API_LEGACY))
    old = {i.paper.id: i.paper for i in fetch_feed(engine, arxiv_query("all:proton", limit=10)).items}
    shared = set(new) & set(old)
    assert shared
    for pid in shared:
        assert (new[pid].title, new[pid].authors, new[pid].date) == (old[pid].title, old[pid].authors, old[pid].date)


def test_the_api_is_paged_and_spaced(server: FeedServer, engine: Engine) -> None:
    server.serve(QUERY, Canned(API_NEW_5), Canned(API_NEW_3))
    spaced = with_feeds(engine, server, page_size=5, arxiv_interval=0.4)
    result = fetch_feed(spaced, arxiv_query("cat:cs.AI", limit=8))
    assert len(result.items) == 8
    first, second = server.requests(QUERY)
    assert (first.query["start"], first.query["max_results"]) == (["0"], ["5"])
    assert (second.query["start"], second.query["max_results"]) == (["5"], ["3"])
    assert second.at - first.at >= 0.38  # arXiv's spacing, measured by the server


def test_a_category_since_a_date_uses_the_api(server: FeedServer, engine: Engine) -> None:
    server.serve(QUERY, Canned(API_NEW_5))
    result = fetch_feed(engine, arxiv_category("cs.AI", since=date.fromisoformat("2026-07-01")))
    assert result.feed == "arxiv:cs.AI" and len(result.items) == 5
    query = server.requests(QUERY)[0].query["search_query"][0]
    assert query.startswith("cat:cs.AI AND submittedDate:[202607010000 TO ")


# ---- empty, errors, malformed ---------------------------------------------------------------


@pytest.mark.parametrize("body", [API_EMPTY, API_LEGACY_EMPTY], ids=["empty", "legacy-total-1-no-entry"])
def test_an_empty_result_adds_nothing_and_stops(server: FeedServer, engine: Engine, body: bytes) -> None:
    server.serve(QUERY, Canned(body))
    result = fetch_feed(with_feeds(engine, server, page_size=10), arxiv_query("id:1201.56789", limit=50))
    assert (result.items, result.report.added) == ([], 0)
    assert len(server.requests(QUERY)) == 1  # a short page ends the paging, whatever totalResults says


def test_an_empty_listing_feed_is_not_an_error(server: FeedServer, engine: Engine) -> None:
    empty = b'<?xml version="1.0"?><rss version="2.0"><channel><title>cs.CL</title></channel></rss>'
    server.serve("/rss/cs.CL", Canned(empty))
    assert fetch_feed(engine, arxiv_category("cs.CL")).items == []


@pytest.mark.parametrize("status", [200, 400])
def test_an_error_entry_is_one_clear_line(server: FeedServer, engine: Engine, status: int) -> None:
    server.serve(QUERY, Canned(API_ERROR, status=status))
    with pytest.raises(FeedRejected, match=r"^arXiv rejected the request: incorrect id format for 1234\.12345$"):
        fetch_feed(engine, arxiv_query("id:1234.12345"))
    assert len(server.requests(QUERY)) == 1  # a rejected query is not retried
    assert engine.store.counts() == (0, 0)


def test_malformed_xml_is_reported_and_nothing_is_stored(server: FeedServer, engine: Engine) -> None:
    server.serve(QUERY, Canned(API_NEW_5[: len(API_NEW_5) // 2]))
    with pytest.raises(FeedError, match=r"^arXiv API: malformed XML \(line \d+, column \d+\)$"):
        fetch_feed(engine, arxiv_query("cat:cs.AI"))
    server.serve("/rss/cs.LG", Canned(RSS_4[:3000]))
    with pytest.raises(FeedError, match=r"^arXiv listing feed: malformed XML"):
        fetch_feed(engine, arxiv_category("cs.LG"))
    assert engine.store.counts() == (0, 0)


def test_malformed_json_is_reported(server: FeedServer, engine: Engine) -> None:
    server.serve(DAILY, Canned(HF_2024[:5000], content_type=JSON))
    with pytest.raises(FeedError, match=r"^daily papers: the response is not valid JSON \(line 1, column \d+\)$"):
        fetch_feed(engine, daily_papers())
    server.serve(DAILY, Canned(b'{"error": "Invalid date"}', content_type=JSON))
    with pytest.raises(FeedError, match="expected a JSON array, got dict"):
        fetch_feed(engine, daily_papers())


def test_bad_entries_are_skipped_with_a_reason(server: FeedServer, engine: Engine) -> None:
    entries = json.loads(HF_2024)
    entries[1]["paper"]["summary"] = None
    entries[2]["paper"]["title"] = "x" * 5000
    entries[3] = "not an object"
    server.serve(DAILY, Canned(json.dumps(entries).encode(), content_type=JSON))
    result = fetch_feed(engine, daily_papers())
    assert result.report.added == 5 and len(result.skipped) == 3
    assert any("title of 5,000 characters" in reason for reason in result.skipped)


def test_hostile_xml_is_refused(server: FeedServer, engine: Engine) -> None:
    bomb = b'<?xml version="1.0"?><!DOCTYPE f [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]><feed>&b;</feed>'
    server.serve(QUERY, Canned(bomb))
    with pytest.raises(FeedError, match="refused XML"):
        fetch_feed(engine, arxiv_query("cat:cs.AI"))


def test_an_oversized_response_is_not_read(server: FeedServer, engine: Engine) -> None:
    server.serve(QUERY, Canned(API_LEGACY))
    with pytest.raises(FeedError, match=r"larger than 5,000 bytes \(feeds.max_bytes\)"):
        fetch_feed(with_feeds(engine, server, max_bytes=5000), arxiv_query("all:electron"))


# ---- slow, dropped, throttled, offline -----------------------------------------------------


def test_a_slow_server_times_out_after_retries(server: FeedServer, engine: Engine) -> None:
    server.serve(DAILY, Canned(HF_2024, delay=1.0, content_type=JSON))
    impatient = with_feeds(engine, server, timeout=0.3, retries=1)
    with pytest.raises(FeedError, match=r"^127\.0\.0\.1:\d+: no answer within 0\.3 s \(after 2 attempts\)$"):
        fetch_feed(impatient, daily_papers())
    assert len(server.requests(DAILY)) == 2


def test_a_slow_first_answer_is_retried(server: FeedServer, engine: Engine) -> None:
    server.serve(DAILY, Canned(HF_2024, delay=1.0, content_type=JSON), Canned(HF_2024, content_type=JSON))
    result = fetch_feed(with_feeds(engine, server, timeout=0.3, retries=1), daily_papers())
    assert result.report.added == 8


def test_a_dropped_connection_is_retried(server: FeedServer, engine: Engine) -> None:
    server.serve("/rss/cs.LG", Canned(drop=True), Canned(RSS_4))
    assert fetch_feed(engine, arxiv_category("cs.LG")).report.added == 4
    assert len(server.requests("/rss/cs.LG")) == 2


def test_a_connection_dropped_every_time_is_one_line(server: FeedServer, engine: Engine) -> None:
    server.serve("/rss/cs.LG", Canned(drop=True))
    with pytest.raises(FeedError, match=r"the connection was dropped .* \(after 3 attempts\)$"):
        fetch_feed(engine, arxiv_category("cs.LG"))


def test_429_and_503_are_retried(server: FeedServer, engine: Engine) -> None:
    server.serve(QUERY, Canned(b"slow down", status=429), Canned(b"busy", status=503), Canned(API_NEW_3))
    assert len(fetch_feed(engine, arxiv_query("ti:attention")).items) == 3
    server.serve(QUERY, Canned(b"busy", status=503))
    with pytest.raises(FeedError, match=r"HTTP 503 \(after 3 attempts\)$"):
        fetch_feed(engine, arxiv_query("ti:attention"))


def test_offline_is_one_clear_line_without_retries(engine: Engine, server: FeedServer) -> None:
    with FeedServer() as gone:
        url = gone.base_url
    offline = with_feeds(engine, server, daily_papers_url=url + DAILY)
    with pytest.raises(FeedError, match=r"^cannot reach 127\.0\.0\.1:\d+ \(.*\); check the network$"):
        fetch_feed(offline, daily_papers())


def test_bad_requests_fail_before_any_download() -> None:
    with pytest.raises(PaperbotError, match="not an arXiv category"):
        arxiv_category("cs.LG; rm -rf /")
    with pytest.raises(PaperbotError, match="the arXiv query is empty"):
        arxiv_query("   ")


# ---- incremental -------------------------------------------------------------------------


def test_an_unchanged_refetch_embeds_nothing(server: FeedServer, engine: Engine) -> None:
    embedder = engine.embedder
    assert isinstance(embedder, HashingEmbedder)
    server.serve(DAILY, Canned(HF_2024, content_type=JSON))
    fetch_feed(engine, daily_papers())
    embedded, counts = embedder.texts_embedded, engine.store.counts()
    assert embedded > 0
    again = fetch_feed(engine, daily_papers())
    assert (again.report.added, again.report.updated, again.report.unchanged) == (0, 0, 8)
    assert embedder.texts_embedded == embedded and engine.store.counts() == counts


def test_a_changed_paper_is_the_only_one_embedded_again(server: FeedServer, engine: Engine) -> None:
    embedder = engine.embedder
    assert isinstance(embedder, HashingEmbedder)
    server.serve(DAILY, Canned(HF_2024, content_type=JSON))
    fetch_feed(engine, daily_papers())
    before = embedder.texts_embedded
    entries = json.loads(HF_2024)
    entries[0]["paper"]["summary"] += " We also release the code."
    server.serve(DAILY, Canned(json.dumps(entries).encode(), content_type=JSON))
    report = fetch_feed(engine, daily_papers()).report
    assert (report.updated, report.unchanged) == (1, 7)
    assert 0 < embedder.texts_embedded - before <= 3  # the changed paper's last chunk(s) only
    assert engine.paper("2404.02258").abstract.endswith("We also release the code.")


def test_the_same_paper_from_two_feeds_is_one_paper(server: FeedServer, engine: Engine) -> None:
    daily = json.loads(HF_NEWER)[:1]
    daily[0]["paper"]["id"] = "2606.26428"  # the first paper of the arXiv API sample
    server.serve(DAILY, Canned(json.dumps(daily).encode(), content_type=JSON))
    server.serve(QUERY, Canned(API_NEW_5))
    fetch_feed(engine, arxiv_query("cat:cs.AI"))
    fetch_feed(engine, daily_papers())
    assert set(engine.paper("2606.26428").sources) == {"arxiv", "daily-papers"}
    assert engine.store.counts()[0] == 5


def test_the_last_fetch_is_remembered_and_a_damaged_state_is_survived(server: FeedServer, engine: Engine) -> None:
    server.serve("/rss/cs.LG", Canned(RSS_4))
    fetch_feed(engine, arxiv_category("cs.LG"))
    last = FetchState(engine.settings.home).get("arxiv:cs.LG")
    assert last is not None and last.papers == 4 and last.newest == "2026-09-24"
    (engine.settings.home / "fetch-state.json").write_text("{broken")
    assert fetch_feed(engine, arxiv_category("cs.LG")).report.unchanged == 4
    assert FetchState(engine.settings.home).get("arxiv:cs.LG") is not None


def test_a_query_stops_paging_at_papers_fetched_before(server: FeedServer, engine: Engine) -> None:
    server.serve(QUERY, Canned(API_NEW_5))
    paged = with_feeds(engine, server, page_size=5)
    fetch_feed(paged, arxiv_query("cat:cs.AI", limit=5))
    server.serve(QUERY, Canned(API_NEW_5))  # newest first: its oldest paper predates the last fetch's newest
    fetch_feed(paged, arxiv_query("cat:cs.AI", limit=50))
    assert len(server.requests(QUERY)) == 2  # one page each time, not ten
