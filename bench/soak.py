"""A long soak through the bot's question handler; prints JSON.

    python -m bench.soak [--questions 1000]

On the bundled sample library (ingested into a temporary home, not timed), asks paper titles
one after another through `PaperbotBot.answer` (cooldown, guild limit, worker threads, the
reply) with 20 running conversations; `tests/test_load.py` runs a short one in CI (100 questions
after 100 that warm the process up). Reports RSS after the first 100 questions and at the end,
each once freed memory is handed back to the system, and the time taken.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import tempfile
import time
from types import SimpleNamespace
from typing import Any

from assistant.conversation import Conversation
from assistant.engine import Engine
from assistant.memory import settled_rss_mb
from assistant.settings import Settings
from bench.machine import machine_info
from connectors.discord_bot import APOLOGY, PaperbotBot


async def soak(bot: PaperbotBot, count: int) -> dict[str, Any]:
    titles = random.Random(11).sample(sorted(p.title for p in bot.engine.store.all_papers()), 200)
    conversations = [Conversation() for _ in range(20)]
    after_100, apologies, started = 0.0, 0, time.perf_counter()
    for n in range(count):
        replies: list[str] = []

        async def send(**message: Any) -> None:
            replies.append(str(message.get("content") or ""))  # noqa: B023 - used before the next loop turn

        user = SimpleNamespace(id=n % 7, guild=SimpleNamespace(id=n % 3))
        await bot.answer(titles[n % len(titles)], send, user, conversations[n % 20])
        apologies += any(APOLOGY in reply for reply in replies)
        if n == 99:
            after_100 = settled_rss_mb()
    seconds, end = round(time.perf_counter() - started, 1), settled_rss_mb()
    return {
        "questions": count,
        "seconds": seconds,
        "rss_after_100_mb": round(after_100, 1),
        "rss_end_mb": round(end, 1),
        "growth_mb": round(end - after_100, 1),
        "apologies": apologies,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--questions", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        os.environ["PAPERBOT_HOME"] = home
        settings = Settings(home=home, discord={"cooldown": 0, "max_concurrent": 2})
        engine = Engine(settings)
        engine.ingest_sample()
        figures = asyncio.run(soak(PaperbotBot(engine, settings), args.questions))
    print(json.dumps({"benchmark": "soak", **figures, "machine": machine_info()}, indent=2))


if __name__ == "__main__":
    main()
