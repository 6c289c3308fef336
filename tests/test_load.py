"""Load through the bot's handler path (`PaperbotBot.answer`: cooldown, guild limit, the
engine in worker threads, the reply) on the bundled sample library with the real model:
50 questions at once, then a soak of 100 more questions asked twice, with memory growth bounded (the
1,000-question soak is a benchmark: `python -m bench.soak`)."""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from assistant.conversation import MAX_TURNS, Conversation
from assistant.engine import Engine
from assistant.memory import settled_rss_mb, status_mb
from assistant.settings import Settings
from connectors.discord_bot import APOLOGY, PaperbotBot
from connectors.discord_text import inert

SOAK_QUESTIONS = 100  # after the 100 of the concurrent part, which warm the process up
SOAK_ROUNDS = 2  # the soak asks its questions twice: 200 in all, as a bot hears questions again
SOAK_GROWTH_KB = 200  # the stated bound, per question: a leak that size fails
# Settled RSS is read every SAMPLE_EVERY questions and the growth is the slope of a line
# through all readings: one reading wanders by +-15 MB (allocator and arena timing), so two
# readings alone (start and end) failed a leak-free run as often as they caught a leak.
SAMPLE_EVERY = 20
SOAK_CONVERSATIONS = 5  # each is past its MAX_TURNS halfway through the soak


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


@pytest.fixture
def bot(sample_home: Path) -> PaperbotBot:
    settings = Settings(home=sample_home, discord={"cooldown": 0, "max_concurrent": 2})
    return PaperbotBot(Engine(settings), settings)


def titled_questions(bot: PaperbotBot, count: int, seed: int, leaving_out: frozenset[str] = frozenset()) -> list[str]:
    titles = sorted(p.title for p in bot.engine.store.all_papers() if p.title not in leaving_out)
    return random.Random(seed).sample(titles, count)


@pytest.mark.asyncio
async def test_50_concurrent_questions_then_a_soak_of_200(bot: PaperbotBot) -> None:
    """One process, as a bot runs: the concurrent questions, then the soak, whose memory
    baseline is taken once the first 100 questions have warmed the process up."""
    asked = await fifty_concurrent_questions_get_the_answers_they_get_alone(bot)
    await a_soak_keeps_memory_flat(bot, titled_questions(bot, SOAK_QUESTIONS, seed=11, leaving_out=asked))


async def fifty_concurrent_questions_get_the_answers_they_get_alone(bot: PaperbotBot) -> frozenset[str]:
    """No cross-talk between questions answered at once: each reply is the one the engine
    gives that question on its own, and each cites papers."""
    titles = titled_questions(bot, 50, seed=5)
    alone = {title: bot.engine.ask(title) for title in titles}
    inboxes = [Inbox() for _ in titles]
    before, started = status_mb(), time.perf_counter()
    await asyncio.gather(
        *(bot.answer(t, box.send, User(i, Guild(i))) for i, (t, box) in enumerate(zip(titles, inboxes, strict=True)))
    )
    seconds = time.perf_counter() - started
    for title, box in zip(titles, inboxes, strict=True):
        assert APOLOGY not in box.text() and "Sorry" not in box.text()
        assert " ".join(box.text().split()) == " ".join(inert(alone[title].text).split())
        assert alone[title].citations and "**[1]**" in box.sources()
    print(f"\n50 concurrent: {seconds:.1f} s, RSS {before:.0f} -> {status_mb():.0f} MB")
    assert status_mb() - before < 150
    return frozenset(titles)


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


async def a_soak_keeps_memory_flat(bot: PaperbotBot, titles: list[str]) -> None:
    """Questions never asked before, in a row, in running conversations (follow-ups in threads
    keep history): no apology, and no growth past the bound once warm."""
    conversations = [Conversation() for _ in range(SOAK_CONVERSATIONS)]
    readings, started = [(0, settled_rss_mb())], time.perf_counter()
    for n, title in enumerate(titles * SOAK_ROUNDS, start=1):
        box = Inbox()
        await bot.answer(title, box.send, User(n % 7, Guild(n % 3)), conversations[n % SOAK_CONVERSATIONS])
        assert APOLOGY not in box.text()
        if n % SAMPLE_EVERY == 0:
            readings.append((n, settled_rss_mb()))
    seconds = time.perf_counter() - started
    assert all(len(c.turns) == MAX_TURNS for c in conversations)  # the history bound was reached
    growth_kb = growth_per_question_kb(readings)
    print(f"\nsoak: {readings[-1][0]} questions in {seconds:.0f} s, RSS (MB) {[round(mb) for _, mb in readings]}")
    assert growth_kb < SOAK_GROWTH_KB, f"{growth_kb:.0f} KB a question"


def growth_per_question_kb(readings: list[tuple[int, float]]) -> float:
    """Least-squares slope of RSS (MB) over questions asked, in KB a question."""
    xs, ys = [float(n) for n, _ in readings], [mb for _, mb in readings]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / sum((x - mean_x) ** 2 for x in xs)
    return slope * 1024


def test_the_growth_is_the_slope_through_every_reading() -> None:
    flat_but_noisy = [(0, 400.0), (20, 415.0), (40, 398.0), (60, 414.0), (80, 401.0), (100, 416.0), (120, 400.0)]
    assert abs(growth_per_question_kb(flat_but_noisy)) < 100
    leaking = [(n, 400.0 + 0.3 * n) for n in range(0, 201, 20)]  # 300 KB a question
    assert growth_per_question_kb(leaking) == pytest.approx(0.3 * 1024)
