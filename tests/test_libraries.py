"""Named libraries in one home: each its own Chroma collections and keyword index; the default
keeps today's names; two Discord servers mapped to two libraries never see each other's papers
(dpytest, real embedded Chroma, fast fake embedder)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import discord.ext.test as dpytest
import pytest
import pytest_asyncio
from typer.testing import CliRunner

from assistant.engine import Engine
from assistant.errors import PaperbotError
from assistant.libraries import Libraries
from assistant.settings import DiscordSettings, Settings, load_settings
from connectors.cli import app
from connectors.discord_bot import PaperbotBot
from tests import discord_harness as harness
from tests.fakes import HashingEmbedder

OCEAN = [
    {"title": "Kelp Forests at Night", "abstract": "Sea urchins graze kelp forests at night."},
    {"title": "Urchin Barrens", "abstract": "Urchin barrens form where sea urchins remove kelp."},
]
GROKKING = [
    {"title": "Grokking in Transformers", "abstract": "Grokking is delayed generalization after overfitting."},
    {"title": "Memorization and Grokking", "abstract": "Memorization precedes grokking in small transformers."},
]
COMETS = [{"title": "Comet Tails", "abstract": "Comet tails point away from the sun because of solar wind."}]


def papers_file(folder: Path, name: str, papers: list[dict[str, str]]) -> Path:
    path = folder / f"{name}.jsonl"
    path.write_text("\n".join(json.dumps(p) for p in papers))
    return path


def titles(results: list[Any]) -> set[str]:
    return {r.paper.title for r in results}


def test_libraries_in_one_home_hold_their_own_papers(tmp_path: Path) -> None:
    home = tmp_path / "home"
    embedder = HashingEmbedder()
    default = Engine(Settings(home=home), embedder=embedder)
    default.ingest([papers_file(tmp_path, "comets", COMETS)])
    ocean = Engine(Settings(home=home, library="ocean"), embedder=embedder)
    ocean.ingest([papers_file(tmp_path, "ocean", OCEAN)])
    assert titles(ocean.search("comet tails solar wind", k=5)) <= {p["title"] for p in OCEAN}
    assert titles(default.search("sea urchins kelp", k=5)) == {"Comet Tails"}
    assert ocean.store.counts() == (2, 2) and default.store.counts() == (1, 1)
    # the default library keeps the names homes had before libraries existed
    assert default.store.papers.name == "paperbot-papers"
    assert default.library.index_path == home / "lexical" / "paperbot.sqlite3"
    assert ocean.store.papers.name == "paperbot.ocean-papers"
    assert ocean.library.index_path == home / "lexical" / "paperbot.ocean.sqlite3"
    ocean.delete([ocean.search("kelp", k=1)[0].paper.id])
    assert default.store.counts() == (1, 1)  # deleting in one library leaves the others alone


def test_a_library_name_comes_from_the_environment_and_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAPERBOT_LIBRARY", "lab-2")
    assert load_settings().library == "lab-2" and load_settings().collection_prefix() == "paperbot.lab-2"
    assert load_settings(library="other").library == "other"  # what --library passes
    monkeypatch.setenv("PAPERBOT_LIBRARY", "../etc")
    with pytest.raises(PaperbotError, match="a library name is"):
        load_settings()
    with pytest.raises(ValueError, match="server id or server_id/channel_id"):
        DiscordSettings(libraries={"general": "a"})


def test_the_library_option_on_the_command_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAPERBOT_AUTO_SAMPLE", "false")
    runner = CliRunner()
    ingest = runner.invoke(app, ["--library", "ocean", "ingest", str(papers_file(tmp_path, "ocean", OCEAN))])
    assert ingest.exit_code == 0, ingest.output
    assert "2 added" in ingest.stdout
    ocean = runner.invoke(app, ["--library", "ocean", "stats", "--json"])
    default = runner.invoke(app, ["stats", "--json"])
    assert json.loads(ocean.stdout)["papers"] == 2 and json.loads(default.stdout)["papers"] == 0
    bad = runner.invoke(app, ["--library", "No Spaces", "stats"])
    assert bad.exit_code == 1 and "a library name is" in bad.stderr and "Traceback" not in bad.output


@pytest_asyncio.fixture
async def two_servers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[PaperbotBot, Any]]:
    settings = Settings(home=tmp_path / "home", retrieval={"min_score": 0.1}, discord={"cooldown": 0})
    engine = Engine(settings, embedder=HashingEmbedder())
    engine.ingest([papers_file(tmp_path, "comets", COMETS)])
    client = harness.make_client(engine, settings)
    recorder = await harness.connect(client, monkeypatch, guilds=3, text_channels=2, members=["alice"])
    first, second, _ = dpytest.get_config().guilds
    # Guild ids exist only now: the mapping goes through the settings' validation all the same.
    mapping = {str(first.id): "ocean", str(second.id): "grokking"}
    mapping[f"{first.id}/{first.text_channels[1].id}"] = "grokking"  # one channel of the first has its own
    client.libraries = Libraries(engine, DiscordSettings(libraries=mapping).libraries)
    client.libraries.engine("ocean").ingest([papers_file(tmp_path, "ocean", OCEAN)])
    client.libraries.engine("grokking").ingest([papers_file(tmp_path, "grokking", GROKKING)])
    yield client, recorder
    await dpytest.empty_queue()


def cited_and_listed(recorder: harness.Recorder, start: int) -> str:
    payloads = recorder.payloads[start:]
    embeds = [e.get("description") or "" for p in payloads for e in p.get("embeds") or []]
    return " ".join([p.get("content") or "" for p in payloads] + embeds)


@pytest.mark.asyncio
async def test_two_servers_never_see_each_others_papers(two_servers: Any) -> None:
    client, recorder = two_servers
    first, second, unmapped = dpytest.get_config().guilds
    member = first.members[0]
    for guild, own, other in ((first, OCEAN, GROKKING), (second, GROKKING, OCEAN)):
        channel = guild.text_channels[0]
        for query in ("grokking delayed generalization transformers", "sea urchins graze kelp forests"):
            start = len(recorder.payloads)
            await client.tree._call(harness.slash(client, "search", member, channel, query=query, k=5))
            await client.tree._call(harness.slash(client, "ask", member, channel, question=query))
            await dpytest.message(f"<@{client.user.id}> {query}", channel=channel)
            shown = cited_and_listed(recorder, start)
            assert all(p["title"] not in shown for p in other + COMETS), (guild.name, query, shown)
        assert own[0]["title"] in shown or own[1]["title"] in shown  # and it does answer from its own
    start = len(recorder.payloads)
    channel = unmapped.text_channels[0]
    await client.tree._call(harness.slash(client, "search", member, channel, query="kelp grokking comet"))
    assert titles_in(cited_and_listed(recorder, start)) == {"Comet Tails"}  # unlisted: the default library


@pytest.mark.asyncio
async def test_a_channel_can_have_its_own_library(two_servers: Any) -> None:
    client, recorder = two_servers
    first = dpytest.get_config().guilds[0]
    member = first.members[0]
    await client.tree._call(harness.slash(client, "search", member, first.text_channels[1], query="kelp grokking", k=5))
    assert titles_in(cited_and_listed(recorder, 0)) == {p["title"] for p in GROKKING}
    start = len(recorder.payloads)
    await client.tree._call(harness.slash(client, "search", member, first.text_channels[0], query="kelp grokking", k=5))
    assert titles_in(cited_and_listed(recorder, start)) == {p["title"] for p in OCEAN}


def titles_in(text: str) -> set[str]:
    return {p["title"] for p in OCEAN + GROKKING + COMETS if p["title"] in text}


@pytest.mark.asyncio
async def test_related_stays_within_the_servers_library(two_servers: Any) -> None:
    client, recorder = two_servers
    first, second, _ = dpytest.get_config().guilds
    member = first.members[0]
    kelp = client.libraries.engine("ocean").search("kelp forests", k=1)[0].paper.id
    await client.tree._call(harness.slash(client, "related", member, first.text_channels[0], paper_id=kelp, k=3))
    embed = recorder.followups[-1]["embeds"][0]
    assert embed["title"] == "Related to: Kelp Forests at Night"
    assert "Urchin Barrens" in embed["description"] and "shared: " in embed["description"]
    await client.tree._call(harness.slash(client, "related", member, second.text_channels[0], paper_id=kelp))
    assert recorder.followups[-1]["content"].startswith(f"Sorry: no paper with id {kelp!r} in the library")
