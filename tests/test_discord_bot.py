"""The bot end to end through discord.py's own code paths, with dpytest's in-memory Discord
(plus threads and interaction webhooks from tests/discord_harness.py). The engine is real:
embedded Chroma with the fast fake embedder."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import discord
import discord.ext.test as dpytest
import pytest
import pytest_asyncio

from assistant.engine import Engine
from assistant.models import Answer
from assistant.settings import Settings
from connectors.discord_bot import APOLOGY, PaperbotBot
from tests import discord_harness as harness
from tests.fakes import HashingEmbedder

PAPERS = [
    {
        "title": "Grokking in Transformers",
        "abstract": "Grokking is delayed generalization long after overfitting.",
        "url": "https://arxiv.org/abs/2201.02177",
        "date": "2022-01-06",
    },
    {"title": "Memorization and Grokking", "abstract": "Memorization precedes grokking in small transformers."},
    {"title": "Kelp Forests", "abstract": "Urchins graze kelp at night."},
]


@pytest_asyncio.fixture
async def bot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[PaperbotBot, harness.Recorder]]:
    path = tmp_path / "papers.jsonl"
    path.write_text("\n".join(json.dumps(p) for p in PAPERS))
    settings = Settings(home=tmp_path / "home", retrieval={"min_score": 0.1}, discord={"cooldown": 0})
    engine = Engine(settings, embedder=HashingEmbedder())
    engine.ingest([path])
    client = PaperbotBot(engine, settings)
    # dpytest finds mentioned members in the member cache, which the bot's intents leave off.
    client._connection._intents.members = True
    client._connection.member_cache_flags = discord.MemberCacheFlags.from_intents(client._connection._intents)
    await client._async_setup_hook()
    dpytest.configure(client, members=["alice", "bob"])
    recorder = harness.install(client, monkeypatch)
    yield client, recorder
    await dpytest.empty_queue()


def config() -> Any:
    return dpytest.get_config()


async def mention(client: PaperbotBot, text: str, **kwargs: Any) -> discord.Message:
    return await dpytest.message(f"<@{client.user.id}> {text}", **kwargs)  # type: ignore[union-attr]


@pytest.mark.asyncio
async def test_a_mention_opens_a_thread_and_answers_with_sources(bot: Any) -> None:
    client, recorder = bot
    await mention(client, "what is known about grokking?")
    assert [t.name for t in recorder.threads] == ["what is known about grokking?"]
    sent = [p for p in recorder.payloads]
    text = " ".join(p.get("content") or "" for p in sent)
    assert "[1]" in text and "Grok" in text
    embeds = [e for p in sent for e in p.get("embeds") or []]
    assert embeds and embeds[0]["title"] == "Sources"
    assert "[Grokking in Transformers](https://arxiv.org/abs/2201.02177) (2022-01-06)" in embeds[0]["description"]


@pytest.mark.asyncio
async def test_a_follow_up_in_the_thread_uses_the_history(bot: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    client, recorder = bot
    seen: list[list[str]] = []
    ask = client.engine.ask

    def spy(question: str, *args: Any, history: Any = (), **kwargs: Any) -> Answer:
        seen.append([turn.question for turn in history])
        return ask(question, *args, history=history, **kwargs)

    monkeypatch.setattr(client.engine, "ask", spy)
    await mention(client, "what is known about grokking?")
    thread = recorder.threads[0]
    await dpytest.message("and which of them mention memorization?", channel=thread)
    assert seen == [[], ["what is known about grokking?"]]
    assert recorder.payloads[-1].get("embeds") or recorder.payloads[-2].get("content")


@pytest.mark.asyncio
async def test_a_long_answer_arrives_as_several_valid_messages(bot: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    client, recorder = bot
    long_text = " ".join(f"Claim {i} about grokking holds [1]." for i in range(200))
    assert len(long_text) > 5000
    paper = client.engine.paper(client.engine.search("grokking", k=1)[0].paper.id)
    from assistant.models import Citation

    canned = Answer("q", long_text, False, "extractive", (Citation(1, paper),))
    monkeypatch.setattr(client.engine, "ask", lambda *a, **k: canned)
    await mention(client, "tell me everything about grokking")
    contents = [p["content"] for p in recorder.payloads if p.get("content")]
    assert len(contents) >= 3 and all(len(c) <= 2000 for c in contents)
    assert " ".join(contents).split() == long_text.split()
    assert all(c.endswith("[1].") for c in contents)


@pytest.mark.asyncio
async def test_everyone_in_a_question_pings_nobody(bot: Any) -> None:
    client, recorder = bot
    await mention(client, "@everyone what is grokking? <@12345>")
    assert recorder.payloads
    for payload in recorder.payloads:
        assert payload.get("allowed_mentions") == {"parse": []}, payload


@pytest.mark.asyncio
async def test_other_bots_and_its_own_messages_are_ignored(bot: Any) -> None:
    client, recorder = bot
    other_bot = config().members[1]
    other_bot._user.bot = True
    await dpytest.message(f"<@{client.user.id}> what is grokking?", member=other_bot)
    assert recorder.payloads == [] and recorder.threads == []
    await client.on_message(await dpytest.message("plain chatter without a mention"))
    assert recorder.payloads == []


@pytest.mark.asyncio
async def test_an_engine_error_becomes_an_apology(bot: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    client, recorder = bot

    def broken(*args: Any, **kwargs: Any) -> Answer:
        raise RuntimeError("chroma fell over")

    monkeypatch.setattr(client.engine, "ask", broken)
    await mention(client, "what is grokking?")
    assert recorder.payloads[-1]["content"] == APOLOGY


@pytest.mark.asyncio
async def test_a_slash_command_is_deferred_then_followed_up(bot: Any) -> None:
    client, recorder = bot
    member = config().members[0]
    channel = config().channels[0]
    interaction = harness.slash(client, "ask", member, channel, question="what is grokking?")
    await client.tree._call(interaction)
    assert recorder.interaction_responses[0]["type"] == 5  # deferred channel message
    texts = " ".join(f.get("content") or "" for f in recorder.followups)
    assert "[1]" in texts
    assert all(f.get("allowed_mentions") == {"parse": []} for f in recorder.followups)
