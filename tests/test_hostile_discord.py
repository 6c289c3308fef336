"""The bot against hostile library text and careless timing, through discord.py's own code
paths (dpytest): every library text escaped by one function, /summarize under the cooldown,
one error handler for every slash command, and the engine opened once when commands race."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import discord
import discord.ext.test as dpytest
import pytest
import pytest_asyncio
from discord.webhook.async_ import AsyncWebhookAdapter

from assistant.engine import Engine
from assistant.settings import Settings
from connectors.discord_bot import APOLOGY, PaperbotBot
from tests import discord_harness as harness
from tests.fakes import HashingEmbedder

EVIL = "[click me](https://evil.example/steal) **LOUD** @everyone @here <@42> <@&7> ||spoiler|| `code`"
PAPERS = [
    {
        "title": f"Sea urchin spines regrow {n} {EVIL}",
        "abstract": f"Sea urchin spines regrow in weeks {n}. {EVIL}\n# Obey me\n> quoted. Sea urchin spines matter.",
        "url": url,
    }
    for n, url in enumerate(
        ["https://arxiv.org/abs/2301.00042", "https://x.example/a) [pwn](https://evil.example", None, None]
    )
]
# What must never appear in anything the bot sends: a live masked link, a mention, formatting.
LIVE = [
    re.compile(r"(?<!\\)\]\(https://evil"),  # "\](" is a literal bracket: no link
    re.compile(r"@everyone|@here"),
    re.compile(r"(?<![\\\u200b])<@&?\d+>"),
    re.compile(r"(?<!\\)\*\*LOUD(?<!\\)\*\*"),
    re.compile(r"(?<!\\)\|\|spoiler"),
    re.compile(r"^# Obey", re.MULTILINE),
]


def assert_inert(text: str) -> None:
    for pattern in LIVE:
        assert not pattern.search(text), (pattern.pattern, text)


def sent_text(recorder: harness.Recorder) -> str:
    """Every content, embed title and description the bot sent."""
    parts: list[str] = []
    for payload in recorder.followups + recorder.payloads:
        parts.append(payload.get("content") or "")
        for embed in payload.get("embeds") or []:
            parts += [embed.get("title") or "", embed.get("description") or "", embed.get("url") or ""]
            parts += [field["value"] for field in embed.get("fields") or []]
    return "\n".join(parts)


async def start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cooldown: float) -> tuple[PaperbotBot, Any]:
    path = tmp_path / "papers.jsonl"
    if not path.exists():
        path.write_text("\n".join(json.dumps(p) for p in PAPERS))
        settings = Settings(home=tmp_path / "home", retrieval={"min_score": 0.05})
        Engine(settings, embedder=HashingEmbedder()).ingest([path])
    settings = Settings(home=tmp_path / "home", retrieval={"min_score": 0.05}, discord={"cooldown": cooldown})
    client = harness.make_client(Engine(settings, embedder=HashingEmbedder()), settings)
    return client, await harness.connect(client, monkeypatch)


@pytest_asyncio.fixture
async def bot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[PaperbotBot, Any]]:
    yield await start(tmp_path, monkeypatch, cooldown=0)
    await dpytest.empty_queue()


async def slash(client: PaperbotBot, name: str, **options: Any) -> None:
    member, channel = dpytest.get_config().members[0], dpytest.get_config().channels[0]
    await client.tree._call(harness.slash(client, name, member, channel, **options))


@pytest.mark.asyncio
async def test_search_titles_are_escaped(bot: Any) -> None:
    client, recorder = bot
    await slash(client, "search", query="sea urchin spines regrow", k=4)
    description = recorder.followups[-1]["embeds"][0]["description"]
    assert description.count("Sea urchin spines regrow") == 4
    assert "[Sea urchin spines regrow 0" in description and "](https://arxiv.org/abs/2301.00042)" in description
    assert "x.example" not in description  # a URL that would break out of the link is left out
    assert_inert(sent_text(recorder))


@pytest.mark.asyncio
async def test_paper_abstracts_and_titles_are_escaped(bot: Any) -> None:
    client, recorder = bot
    for paper_id in client.engine.store.stored_papers():
        await slash(client, "paper", paper_id=paper_id)
    embeds = [e for f in recorder.followups for e in f.get("embeds") or []]
    assert len(embeds) == 4 and all("Sea urchin spines regrow in weeks" in e["description"] for e in embeds)
    assert all(e.get("url") in (None, "https://arxiv.org/abs/2301.00042") for e in embeds)
    assert_inert(sent_text(recorder))


@pytest.mark.asyncio
async def test_the_first_part_of_a_summary_is_escaped_and_the_file_kept_as_written(bot: Any) -> None:
    client, recorder = bot
    await slash(client, "summarize", topic="sea urchin spines @everyone [x](https://evil.example/t)")
    reply = recorder.followups[-1]
    assert reply["content"].startswith("# sea urchin spines") and "## References" in reply["content"]
    assert_inert(sent_text(recorder))
    [(_, data)] = recorder.files
    assert "[click me](https://evil.example/steal)" in data.decode()  # the attachment is the document itself


@pytest.mark.asyncio
async def test_error_messages_quoting_input_are_escaped(bot: Any) -> None:
    client, recorder = bot
    await slash(client, "paper", paper_id="@everyone [x](https://evil.example/p) <@42>")
    content = recorder.followups[-1]["content"]
    assert content.startswith("Sorry: no paper with id")
    assert_inert(sent_text(recorder))


@pytest.mark.asyncio
async def test_summarize_is_under_the_cooldown(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    client, recorder = await start(tmp_path, monkeypatch, cooldown=60)
    await slash(client, "summarize", topic="sea urchin spines")
    await slash(client, "summarize", topic="sea urchin spines")
    await slash(client, "ask", question="do sea urchin spines regrow?")
    assert len(recorder.files) == 1
    waits = [f["content"] for f in recorder.followups if (f.get("content") or "").startswith("Please wait")]
    assert len(waits) == 2
    await dpytest.empty_queue()


@pytest.mark.asyncio
@pytest.mark.parametrize("command", ["search", "paper", "stats", "summarize"])
async def test_one_handler_turns_any_command_failure_into_an_apology(
    bot: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, command: str
) -> None:
    client, recorder = bot

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("chroma fell over")

    # The library's storage breaks under every command: each must answer, and log the cause.
    monkeypatch.setattr(client.engine.store, "get_papers", broken)
    monkeypatch.setattr(client.engine.store, "all_papers", broken)
    monkeypatch.setattr(client.engine.store, "counts", broken)
    monkeypatch.setattr(client.engine.store, "query", broken, raising=False)
    monkeypatch.setattr(client.engine, "retriever", type("Broken", (), {"search": broken})())
    options = {"search": {"query": "urchins"}, "paper": {"paper_id": "2301.00042"}, "summarize": {"topic": "x"}}
    with caplog.at_level(logging.ERROR, logger="paperbot.discord"):
        await slash(client, command, **options.get(command, {}))
    assert recorder.followups[-1]["content"] == APOLOGY
    assert "chroma fell over" in caplog.text


@pytest.mark.asyncio
async def test_commands_arriving_together_open_the_engine_once(
    bot: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    client, recorder = bot
    client.engine.library.index_path.write_bytes(b"not an index")  # the first search must rebuild it
    with caplog.at_level(logging.INFO, logger="assistant.lexical"):
        await asyncio.gather(*(slash(client, "search", query=f"sea urchin {n}") for n in range(4)))
    rebuilds = [r for r in caplog.records if "rebuilding" in r.getMessage()]
    assert len(rebuilds) == 1
    assert len([f for f in recorder.followups if f.get("embeds")]) == 4


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("command", "options"), [("search", {"query": "urchins"}), ("summarize", {"topic": "sea urchin spines"})]
)
async def test_a_reply_discord_rejects_still_ends_in_an_answer(
    bot: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, command: str, options: dict[str, Any]
) -> None:
    """Discord's API refusing the result (400: a malformed embed or attachment) happens after
    the work, outside any try around it: the tree's one handler still answers the user."""
    client, recorder = bot
    deliver = AsyncWebhookAdapter.execute_webhook

    async def reject_results(self: Any, *args: Any, **kwargs: Any) -> Any:
        payload = harness.webhook_payload(kwargs)
        if payload.get("embeds") or kwargs.get("files"):
            raise discord.HTTPException(SimpleNamespace(status=400, reason="Bad Request"), "Invalid Form Body")
        return await deliver(self, *args, **kwargs)

    monkeypatch.setattr(AsyncWebhookAdapter, "execute_webhook", reject_results)
    with caplog.at_level(logging.ERROR, logger="paperbot.discord"):
        await slash(client, command, **options)
    assert recorder.followups[-1]["content"] == APOLOGY
    assert "Invalid Form Body" in caplog.text
