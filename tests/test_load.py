"""Load through the bot's handler path (`PaperbotBot.answer`: cooldown, guild limit, the
engine in worker threads, the reply) on the bundled sample library with the real model:
50 questions at once, and a soak of 300 in a row with bounded memory (the 1,000-question
soak is a benchmark: `python -m bench.soak`)."""

from __future__ import annotations

import asyncio
import gc
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from assistant.conversation import Conversation
from assistant.engine import Engine
from assistant.settings import Settings
from connectors.discord_bot import APOLOGY, PaperbotBot
from connectors.discord_text import inert

SOAK_QUESTIONS = 300
SOAK_GROWTH_MB = 40  # the stated bound: RSS after 300 questions vs after the first 100


@dataclass(frozen=True)
class Guild:
    id: int


@dataclass(frozen=True)
class User:
    id: int
    guild: Guild


class Inbox:
    """The `send` the handler replies through, keeping what each question got."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    async def send(self, **kwargs: Any) -> None:
        self.messages.append(kwargs)

    def text(self) -> str:
        return " ".join(m.get("content") or "" for m in self.messages)

    def sources(self) -> str:
        return " ".join(m["embed"].description or "" for m in self.messages if "embed" in m)


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


@pytest.fixture
def bot(sample_home: Path) -> PaperbotBot:
    settings = Settings(home=sample_home, discord={"cooldown": 0, "max_concurrent": 2})
    return PaperbotBot(Engine(settings), settings)


def titled_questions(bot: PaperbotBot, count: int, seed: int) -> list[str]:
    titles = sorted(p.title for p in bot.engine.store.all_papers())
    return random.Random(seed).sample(titles, count)


@pytest.mark.asyncio
async def test_50_concurrent_questions_get_the_answers_they_get_alone(bot: PaperbotBot) -> None:
    """No cross-talk between questions answered at once: each reply is the one the engine
    gives that question on its own, and each cites papers."""
    titles = titled_questions(bot, 50, seed=5)
    alone = {title: bot.engine.ask(title) for title in titles}
    inboxes = [Inbox() for _ in titles]
    before, started = rss_mb(), time.perf_counter()
    await asyncio.gather(
        *(bot.answer(t, box.send, User(i, Guild(i))) for i, (t, box) in enumerate(zip(titles, inboxes, strict=True)))
    )
    seconds = time.perf_counter() - started
    for title, box in zip(titles, inboxes, strict=True):
        assert APOLOGY not in box.text() and "Sorry" not in box.text()
        assert " ".join(box.text().split()) == " ".join(inert(alone[title].text).split())
        assert alone[title].citations and "**[1]**" in box.sources()
    print(f"\n50 concurrent: {seconds:.1f} s, RSS {before:.0f} -> {rss_mb():.0f} MB")
    assert rss_mb() - before < 150


@pytest.mark.asyncio
async def test_one_server_gets_busy_replies_beyond_its_limit_and_no_errors(bot: PaperbotBot) -> None:
    titles = titled_questions(bot, 6, seed=9)
    inboxes = [Inbox() for _ in titles]
    same_guild = Guild(1)
    await asyncio.gather(
        *(bot.answer(t, box.send, User(i, same_guild)) for i, (t, box) in enumerate(zip(titles, inboxes, strict=True)))
    )
    answered = [box for box in inboxes if "[1]" in box.text()]
    busy = [box for box in inboxes if "answering several questions" in box.text()]
    assert len(answered) >= 2 and len(answered) + len(busy) == len(titles)


@pytest.mark.asyncio
async def test_a_soak_of_300_questions_keeps_memory_flat(bot: PaperbotBot) -> None:
    titles = titled_questions(bot, 200, seed=11)
    conversations = [Conversation() for _ in range(20)]  # follow-ups in threads keep history
    baseline, started = 0.0, time.perf_counter()
    for n in range(SOAK_QUESTIONS):
        box = Inbox()
        await bot.answer(titles[n % len(titles)], box.send, User(n % 7, Guild(n % 3)), conversations[n % 20])
        assert APOLOGY not in box.text()
        if n == 99:
            gc.collect()
            baseline = rss_mb()
    gc.collect()
    seconds = time.perf_counter() - started
    print(f"\nsoak: {SOAK_QUESTIONS} questions in {seconds:.0f} s, RSS {baseline:.0f} -> {rss_mb():.0f} MB")
    assert rss_mb() - baseline < SOAK_GROWTH_MB
