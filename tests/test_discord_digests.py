"""Digests in Discord through discord.py's own code paths (dpytest), a real engine (embedded
Chroma, the fast fake embedder) and real feed samples replayed on loopback. The schedule's
coroutine is called directly with a fake clock."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any

import discord
import discord.ext.test as dpytest
import pytest
import pytest_asyncio
from discord.ext.test import backend

from assistant.engine import Engine
from assistant.feeds.digest import Subscription
from assistant.feeds.fetch import arxiv_category, fetch_feed
from assistant.libraries import Libraries
from assistant.settings import DiscordSettings, Settings
from connectors.discord_bot import PaperbotBot
from connectors.discord_digests import NEEDS_MANAGE
from tests import discord_harness as harness
from tests.fakes import HashingEmbedder
from tests.feed_server import Canned, FeedServer

SAMPLES = Path(__file__).parent / "data" / "feeds"
HF_2024 = (SAMPLES / "hf_daily_papers_2024-04-04_raw.json").read_bytes()
RSS_4 = (SAMPLES / "arxiv_rss_cs_LG_AI_CL_statML_4_items_2026-09.xml").read_bytes()
JSON = "application/json"
MANAGE_CHANNELS = str(1 << 4)
SEND_ONLY = str(1 << 11)
LINK = re.compile(r"\]\(https://arxiv\.org/abs/([\w./-]+)\)")


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2024, 4, 4, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as running:
        running.serve("/api/daily_papers", Canned(HF_2024, content_type=JSON))
        running.serve("/rss/cs.LG", Canned(RSS_4))
        yield running


def settings_for(home: Path, server: FeedServer) -> Settings:
    feeds = {
        "daily_papers_url": server.base_url + "/api/daily_papers",
        "arxiv_rss_url": server.base_url + "/rss",
        "arxiv_interval": 0,
        "retries": 0,
        "digest_papers": 3,
        "digest_hours": [7, 19],
    }
    return Settings(home=home, feeds=feeds, discord={"cooldown": 0})


@dataclass
class Bot:
    client: PaperbotBot
    clock: FakeClock
    recorder: harness.Recorder


async def start_bot(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Bot:
    engine = Engine(settings, embedder=HashingEmbedder())
    client = harness.make_client(engine, settings)
    recorder = await harness.connect(client, monkeypatch, text_channels=["papers", "general"], members=["alice", "bob"])
    clock = FakeClock()
    client.digests.clock = clock
    return Bot(client, clock, recorder)


@pytest_asyncio.fixture
async def bot(tmp_path: Path, server: FeedServer, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Bot]:
    yield await start_bot(settings_for(tmp_path / "home", server), monkeypatch)
    await dpytest.empty_queue()


def channel(name: str) -> discord.TextChannel:
    guild = dpytest.get_config().guilds[0]
    return next(c for c in guild.text_channels if c.name == name)


async def command(bot: Bot, name: str, where: str = "papers", permissions: str = "8", **options: Any) -> str:
    """A slash command from alice; the reply only she sees."""
    member = dpytest.get_config().members[0]
    responses = bot.recorder.interaction_responses
    before = len(responses)
    await bot.client.tree._call(
        harness.slash(bot.client, name, member, channel(where), permissions=permissions, **options)
    )
    assert len(responses) == before + 1
    payload = responses[-1]
    assert payload["data"]["allowed_mentions"] == {"parse": []} and payload["data"]["flags"] == 64  # ephemeral
    return str(payload["data"]["content"])


async def posted() -> list[discord.Message]:
    messages = []
    while not dpytest.sent_queue.empty():
        messages.append(await dpytest.sent_queue.get())
    return messages


def paper_ids(messages: list[discord.Message]) -> list[str]:
    return [pid for m in messages for e in m.embeds for pid in LINK.findall(e.description or "")]


@pytest.mark.asyncio
async def test_the_scheduled_digest_posts_new_papers_once(bot: Bot) -> None:
    client, clock = bot.client, bot.clock
    reply = await command(bot, "subscribe", feed="daily-papers")
    assert reply == "This channel now gets digests of Hugging Face daily papers at 07:00, 19:00 UTC."
    assert client.digests.loop.time == [time(7, tzinfo=UTC), time(19, tzinfo=UTC)]

    await client.digests.loop()  # the scheduled coroutine, as the 07:00 tick runs it
    first = await posted()
    assert {m.channel.name for m in first} == {"papers"}
    assert len(paper_ids(first)) == 3  # digest_papers
    embed = first[0].embeds[0]
    assert embed.title == "New papers: Hugging Face daily papers"
    assert "**1.** [Mixture-of-Depths: Dynamically allocating compute in transformer-based language models]" in (
        embed.description or ""
    )

    clock.now = clock.now.replace(hour=19)
    await client.digests.loop()
    clock.now = clock.now.replace(day=5, hour=7)
    await client.digests.loop()
    later = await posted()
    everything = paper_ids(first) + paper_ids(later)
    assert len(everything) == len(set(everything)) == 8  # all of the feed, none twice
    clock.now = clock.now.replace(hour=19)
    await client.digests.loop()
    assert await posted() == []  # nothing new: nothing posted


@pytest.mark.asyncio
async def test_a_digest_adds_its_papers_to_the_library_of_its_channel(bot: Bot) -> None:
    client = bot.client
    guild = dpytest.get_config().guilds[0]
    # Channel ids exist only now: the mapping goes through the settings' validation all the same.
    mapping = {f"{guild.id}/{channel('general').id}": "team"}
    client.libraries = Libraries(client.engine, DiscordSettings(libraries=mapping).libraries)
    await command(bot, "subscribe", where="general", feed="daily-papers")
    await client.digests.loop()
    assert len(paper_ids(await posted())) == 3
    assert client.libraries.engine("team").store.counts()[0] == 8  # the whole feed, in the channel's library
    assert client.engine.store.counts()[0] == 0  # and not in the default one


@pytest.mark.asyncio
async def test_a_digest_line_is_a_link_and_one_finding(bot: Bot) -> None:
    client = bot.client
    await command(bot, "subscribe", feed="daily-papers")
    await client.digests.loop()
    description = (await posted())[0].embeds[0].description or ""
    first_item = description.split("\n**2.**")[0]
    title_line, sentence = first_item.split("\n")
    assert title_line.endswith("(https://arxiv.org/abs/2404.02258)")
    assert sentence.count(". ") == 0 and len(sentence) <= 300
    assert sentence in " ".join(client.engine.paper("2404.02258").abstract.split())


@pytest.mark.asyncio
async def test_keywords_rank_what_a_channel_sees(bot: Bot) -> None:
    client = bot.client
    reply = await command(bot, "subscribe", feed="daily-papers", keywords="autoregressive image generation")
    assert reply.endswith("ranked by: autoregressive image generation.")
    await command(bot, "subscribe", where="general", feed="daily-papers")
    await client.digests.loop()
    messages = await posted()
    by_channel = {m.channel.name: paper_ids([m]) for m in messages}
    assert by_channel["papers"][0] == "2404.02905"  # Visual AutoRegressive modeling: scalable image generation
    assert by_channel["general"][0] == "2404.02258"  # no keywords: the feed's order


@pytest.mark.asyncio
async def test_an_arxiv_category_digest_leaves_out_replacements(bot: Bot) -> None:
    client = bot.client
    assert await command(bot, "subscribe", feed="arxiv", category="cs.LG") == (
        "This channel now gets digests of arXiv cs.LG at 07:00, 19:00 UTC."
    )
    client.digests.settings = client.digests.settings.model_copy(update={"digest_papers": 10})
    await client.digests.loop()
    ids = paper_ids(await posted())
    assert ids == ["2609.26811", "2609.26820", "2205.06398"]  # new, new, cross; not the replaced 2009.13987


@pytest.mark.asyncio
async def test_only_members_who_manage_channels_may_subscribe(bot: Bot) -> None:
    client = bot.client
    assert await command(bot, "subscribe", permissions=SEND_ONLY, feed="daily-papers") == NEEDS_MANAGE
    assert client.digests.store.subscriptions() == []
    assert (await command(bot, "subscribe", permissions=MANAGE_CHANNELS, feed="daily-papers")).startswith(
        "This channel now gets"
    )
    assert await command(bot, "unsubscribe", permissions=SEND_ONLY) == NEEDS_MANAGE
    assert len(client.digests.store.subscriptions()) == 1
    listed = await command(bot, "subscriptions", permissions=SEND_ONLY)  # anyone may look
    assert listed == "Digests here, at 07:00, 19:00 UTC:\n- Hugging Face daily papers"
    assert await command(bot, "unsubscribe", permissions=MANAGE_CHANNELS) == "Removed 1 subscription from this channel."
    assert client.digests.store.subscriptions() == []


@pytest.mark.asyncio
async def test_bad_subscriptions_get_one_clear_line(bot: Bot) -> None:
    client = bot.client
    assert (await command(bot, "subscribe", feed="arxiv")).startswith("Sorry: name an arXiv category")
    reply = await command(bot, "subscribe", feed="arxiv", category="@everyone")
    assert reply == "Sorry: '@everyone' is not an arXiv category (like cs.CL, stat.ML or hep-th)"
    assert client.digests.store.subscriptions() == []


@pytest.mark.asyncio
async def test_subscriptions_and_deliveries_survive_a_restart(
    tmp_path: Path, server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_for(tmp_path / "home", server)
    bot = await start_bot(settings, monkeypatch)
    await command(bot, "subscribe", feed="daily-papers", keywords="transformer")
    await bot.client.digests.loop()
    first = paper_ids(await posted())
    old_id = channel("papers").id
    await dpytest.empty_queue()

    restarted = await start_bot(settings, monkeypatch)  # a new bot on the same home
    guild = dpytest.get_config().guilds[0]
    backend.make_text_channel("papers-again", guild, id_num=old_id)  # Discord keeps channel ids
    assert await command(restarted, "subscriptions", where="papers-again") == (
        "Digests here, at 07:00, 19:00 UTC:\n- Hugging Face daily papers (ranked by: transformer)"
    )
    await restarted.client.digests.loop()
    second = paper_ids(await posted())
    assert len(first) == len(second) == 3 and not set(first) & set(second)


@pytest.mark.asyncio
async def test_a_failing_feed_posts_nothing_and_the_others_still_post(bot: Bot, server: FeedServer) -> None:
    client = bot.client
    server.serve("/rss/cs.LG", Canned(b"<rss><channel><item>", status=200))
    await command(bot, "subscribe", feed="arxiv", category="cs.LG")
    await command(bot, "subscribe", where="general", feed="daily-papers")
    await client.digests.loop()
    messages = await posted()
    assert {m.channel.name for m in messages} == {"general"}


@pytest.mark.asyncio
async def test_hostile_feed_text_is_shown_inert_and_pings_nobody(bot: Bot, server: FeedServer) -> None:
    client = bot.client
    entries = json.loads(HF_2024)[:1]
    entries[0]["paper"]["title"] = "Loud **Bold** [click](http://evil.example) @everyone"
    entries[0]["paper"]["summary"] = "We show that <@42> and @here get pinged. # Heading"
    server.serve("/api/daily_papers", Canned(json.dumps(entries).encode(), content_type=JSON))
    await command(bot, "subscribe", feed="daily-papers")
    await client.digests.loop()
    payloads = [p for p in bot.recorder.payloads if p.get("embeds")]
    assert payloads and all(p.get("allowed_mentions") == {"parse": []} for p in payloads)
    description = payloads[0]["embeds"][0]["description"]
    assert "@everyone" not in description and "<@42>" not in description and "@here" not in description
    assert "\\*\\*Bold\\*\\*" in description and "[click](" not in description  # no masked link of theirs
    assert "(https://arxiv.org/abs/2404.02258)" in description


@pytest.mark.asyncio
async def test_a_broken_subscription_store_does_not_stop_the_schedule(bot: Bot) -> None:
    await command(bot, "subscribe", feed="daily-papers")
    store = bot.client.digests.store.path
    store.write_bytes(b"this is not a database" * 100)
    assert await bot.client.digests.loop() == 0  # logged, not raised: the loop lives on
    store.unlink()
    await command(bot, "subscribe", feed="daily-papers")
    assert await bot.client.digests.loop() == 3


def test_a_long_digest_stays_within_discord_limits() -> None:
    from assistant.feeds.records import FeedItem, feed_paper
    from connectors.discord_digests import digest_embeds

    def item(n: int) -> FeedItem:
        paper = feed_paper(
            source="arxiv",
            title=f"Paper {n} " + "very long title words " * 22,
            abstract="We show that " + "results hold broadly and " * 40 + "end.",
            raw_id=f"2601.{n:05d}",
            authors=[],
            published=None,
            categories=[],
        )
        assert not isinstance(paper, str)
        return FeedItem(paper)

    embeds = digest_embeds("arxiv:cs.LG", [item(n) for n in range(20)])
    assert len(embeds) > 1
    assert all(len(e.description or "") <= 4096 and len(e) <= 6000 for e in embeds)
    text = "\n".join(e.description or "" for e in embeds)
    assert [f"**{n}.**" in text for n in range(1, 21)] == [True] * 20


@pytest.mark.asyncio
async def test_arxiv_feeds_of_one_run_keep_arxivs_spacing(bot: Bot, server: FeedServer) -> None:
    server.serve("/rss/cs.CL", Canned((SAMPLES / "arxiv_rss_cs_CL_3_items_2026-04_reserialized.xml").read_bytes()))
    engine = bot.client.engine
    for category in ("cs.CL", "cs.LG"):  # already in the library: the run's ingest is quick
        fetch_feed(engine, arxiv_category(category))
    spaced = engine.settings.feeds.model_copy(update={"arxiv_interval": 1.0})
    engine.settings = engine.settings.model_copy(update={"feeds": spaced})
    await command(bot, "subscribe", feed="arxiv", category="cs.LG")
    await command(bot, "subscribe", where="general", feed="arxiv", category="cs.CL")
    await bot.client.digests.loop()
    first, second = sorted(seen.at for seen in server.requests() if seen.path.startswith("/rss/"))[-2:]
    assert second - first >= 0.95  # the two feeds' requests, one client apart by arXiv's interval
    assert {m.channel.name for m in await posted()} == {"papers", "general"}


@pytest.mark.asyncio
async def test_feeds_of_channels_this_bot_cannot_see_are_not_fetched(bot: Bot, server: FeedServer) -> None:
    other_shard = Subscription(channel_id=123, guild_id=456, feed="arxiv:cs.CL")
    bot.client.digests.store.subscribe(other_shard, bot.clock())
    await command(bot, "subscribe", feed="daily-papers")
    assert await bot.client.digests.loop() == 3
    assert server.requests("/rss/cs.CL") == [] and len(server.requests("/api/daily_papers")) == 1
