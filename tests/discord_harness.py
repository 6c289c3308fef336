"""dpytest plus what it lacks, so the real discord.py code paths run without Discord.

dpytest replaces discord.py's HTTP and gateway with an in-memory backend. We add the few
routes the bot needs that it does not have: starting a thread from a message, and the
interaction webhooks (defer, follow-up, edit). Every outgoing payload is recorded so a
test can check `allowed_mentions`.

Loaded as a pytest plugin (tests/conftest.py): the `papers_bot` fixture is a connected bot
over a real embedded library of `PAPERS` with the fast fake embedder.
"""

from __future__ import annotations

import datetime
import inspect
import itertools
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import discord
import discord.ext.test as dpytest
import pytest
import pytest_asyncio
from discord.ext.test import backend
from discord.webhook.async_ import AsyncWebhookAdapter

from assistant.engine import Engine
from assistant.settings import Settings
from connectors.discord_bot import PaperbotBot
from tests.fakes import HashingEmbedder

_ids = itertools.count(9_000_000_000)

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


class Recorder:
    def __init__(self) -> None:
        self.payloads: list[dict[str, Any]] = []  # every message/follow-up payload the bot sent
        self.interaction_responses: list[dict[str, Any]] = []
        self.followups: list[dict[str, Any]] = []
        self.threads: list[discord.Thread] = []
        self.edits: list[str] = []  # contents of edited messages, in order
        self.files: list[tuple[str, bytes]] = []  # attachments sent with follow-ups


def install(client: discord.Client, monkeypatch: Any) -> Recorder:
    recorder = Recorder()
    http = backend.get_state().http
    send_message = http.send_message

    async def recording_send(channel_id: int, *, params: Any) -> Any:
        recorder.payloads.append(dict(params.payload or {}))
        channel = inspect.currentframe().f_back.f_locals.get("channel")  # type: ignore[union-attr]  # noqa: F841  (dpytest reads it)
        return await send_message(channel_id, params=params)

    async def start_thread_with_message(channel_id: int, message_id: int, *, name: str, **_: Any) -> dict[str, Any]:
        parent = client.get_channel(channel_id)
        assert isinstance(parent, discord.TextChannel)
        data = thread_payload(parent, name, owner_id=client.user.id)  # type: ignore[union-attr]
        thread = discord.Thread(guild=parent.guild, state=client._connection, data=data)  # type: ignore[arg-type]
        parent.guild._add_thread(thread)
        recorder.threads.append(thread)
        return data

    edit_message = http.edit_message

    async def recording_edit(channel_id: int, message_id: int, **fields: Any) -> Any:
        recorder.edits.append(fields["params"].payload.get("content") or "")
        self = inspect.currentframe().f_back.f_locals.get("self")  # type: ignore[union-attr]  # noqa: F841  (dpytest reads it)
        return await edit_message(channel_id, message_id, **fields)

    monkeypatch.setattr(http, "send_message", recording_send)
    monkeypatch.setattr(http, "edit_message", recording_edit)
    monkeypatch.setattr(http, "start_thread_with_message", start_thread_with_message, raising=False)
    install_interactions(client, monkeypatch, recorder)
    return recorder


def thread_payload(parent: discord.TextChannel, name: str, owner_id: int) -> dict[str, Any]:
    now = datetime.datetime.now(datetime.UTC).isoformat()
    return {
        "id": str(next(_ids)),
        "type": 11,
        "guild_id": str(parent.guild.id),
        "parent_id": str(parent.id),
        "owner_id": str(owner_id),
        "name": name,
        "thread_metadata": {
            "archived": False,
            "auto_archive_duration": 1440,
            "archive_timestamp": now,
            "locked": False,
        },
        "message_count": 0,
        "member_count": 1,
        "rate_limit_per_user": 0,
    }


def install_interactions(client: discord.Client, monkeypatch: Any, recorder: Recorder) -> None:
    async def create_interaction_response(self: Any, interaction_id: int, token: str, **kwargs: Any) -> dict[str, Any]:
        params = kwargs.get("params")
        payload = dict(params.payload) if params is not None else {}
        recorder.interaction_responses.append(payload)
        thinking = payload.get("type") == 5
        return {"interaction": {"id": str(interaction_id), "response_message_loading": thinking}}

    async def execute_webhook(self: Any, webhook_id: int, token: str, **kwargs: Any) -> dict[str, Any]:
        payload = webhook_payload(kwargs)
        for file in kwargs.get("files") or []:
            file.fp.seek(0)
            recorder.files.append((file.filename, file.fp.read()))
        recorder.followups.append(payload)
        recorder.payloads.append(payload)
        channel = client.get_all_channels().__next__()
        return message_payload(client, channel, payload)

    async def edit_webhook_message(self: Any, webhook_id: int, token: str, message_id: int, **kwargs: Any) -> Any:
        payload = webhook_payload(kwargs)
        recorder.followups.append(payload | {"edit_of": message_id})
        channel = client.get_all_channels().__next__()
        return message_payload(client, channel, payload, message_id)

    monkeypatch.setattr(AsyncWebhookAdapter, "create_interaction_response", create_interaction_response)
    monkeypatch.setattr(AsyncWebhookAdapter, "execute_webhook", execute_webhook)
    monkeypatch.setattr(AsyncWebhookAdapter, "edit_webhook_message", edit_webhook_message)


def webhook_payload(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The JSON body of a webhook call: plain, or the payload_json part of a multipart upload."""
    if kwargs.get("payload") is not None:
        return dict(kwargs["payload"])
    for part in kwargs.get("multipart") or []:
        if part.get("name") == "payload_json":
            return dict(json.loads(part["value"]))
    return {}


def message_payload(
    client: discord.Client, channel: Any, payload: dict[str, Any], message_id: int | None = None
) -> Any:
    data = backend.facts.make_message_dict(
        channel, client.user, id_num=message_id or next(_ids), content=payload.get("content") or ""
    )
    data["embeds"] = payload.get("embeds") or []
    return data


def slash(
    client: discord.Client,
    name: str,
    member: discord.Member,
    channel: discord.TextChannel,
    *,
    permissions: str = "8",
    **options: Any,
) -> discord.Interaction:
    """An application-command interaction as the gateway would deliver it; `permissions` is
    the member's resolved permission bits in the channel ("8": administrator)."""
    kinds = {str: 3, int: 4}
    data = {
        "id": str(next(_ids)),
        "application_id": str(client.application_id or 1),
        "type": 2,
        "token": "interaction-token",
        "version": 1,
        "guild_id": str(channel.guild.id),
        "channel_id": str(channel.id),
        "channel": {"id": str(channel.id), "type": 0, "guild_id": str(channel.guild.id), "name": channel.name},
        "member": {
            "user": {"id": str(member.id), "username": member.name, "discriminator": "0001", "avatar": None},
            "roles": [],
            "joined_at": datetime.datetime.now(datetime.UTC).isoformat(),
            "deaf": False,
            "mute": False,
            "permissions": permissions,
            "flags": 0,
        },
        "app_permissions": "8",
        "attachment_size_limit": 8_388_608,
        "locale": "en-US",
        "guild_locale": "en-US",
        "entitlements": [],
        "authorizing_integration_owners": {},
        "data": {
            "id": str(next(_ids)),
            "name": name,
            "type": 1,
            "options": [{"name": k, "type": kinds[type(v)], "value": v} for k, v in options.items()],
        },
    }
    return discord.Interaction(data=data, state=client._connection)  # type: ignore[arg-type]


async def sent_texts() -> list[str]:
    """Drain what the bot sent through channels and threads (dpytest's queue)."""
    texts = []
    while not dpytest.sent_queue.empty():
        message = await dpytest.sent_queue.get()
        texts.append(message.content or "")
    return texts


def make_client(engine: Engine, settings: Settings) -> PaperbotBot:
    client = PaperbotBot(engine, settings)
    # dpytest finds mentioned members in the member cache, which the bot's intents leave off.
    client._connection._intents.members = True
    client._connection.member_cache_flags = discord.MemberCacheFlags.from_intents(client._connection._intents)
    return client


async def connect(client: PaperbotBot, monkeypatch: Any, **configure: Any) -> Recorder:
    """Set the bot up as on login, give it dpytest's guild (alice and bob unless `configure`
    says otherwise) and record what it sends."""
    await client._async_setup_hook()
    dpytest.configure(client, **(configure or {"members": ["alice", "bob"]}))
    return install(client, monkeypatch)


@dataclass(frozen=True)
class RunningBot:
    client: PaperbotBot
    recorder: Recorder
    settings: Settings


@pytest_asyncio.fixture
async def papers_bot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[RunningBot]:
    """The bot over a library of PAPERS (real embedded Chroma, fake embedder), no cooldown."""
    path = tmp_path / "papers.jsonl"
    path.write_text("\n".join(json.dumps(p) for p in PAPERS))
    settings = Settings(home=tmp_path / "home", retrieval={"min_score": 0.1}, discord={"cooldown": 0})
    engine = Engine(settings, embedder=HashingEmbedder())
    engine.ingest([path])
    client = make_client(engine, settings)
    yield RunningBot(client, await connect(client, monkeypatch), settings)
    await dpytest.empty_queue()
