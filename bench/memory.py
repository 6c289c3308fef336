"""Peak memory of the bot process with the current library loaded; prints JSON.

    PAPERBOT_HOME=DIR python -m bench.memory [--questions 200]

Builds what `paperbot discord` builds (the engine and the discord.py client, without
logging in), then answers questions the way the bot's handlers do (`engine.ask` and
`engine.search` in worker threads, several at once) and reports the process's RSS after
loading, after the questions, and its peak while answering (VmHWM, reset after the
benchmark has read the titles it asks about).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json

from assistant.engine import Engine
from assistant.memory import status_mb
from assistant.settings import load_settings
from bench.machine import machine_info
from bench.query import DEV, questions


def rss_mb() -> float:
    return status_mb("VmRSS")


def peak_mb() -> float:
    return status_mb("VmHWM")


def reset_peak() -> None:
    """Linux: writing 5 to clear_refs resets VmHWM, so the benchmark's own question list
    (every title in the library) does not count as the bot's memory."""
    with open("/proc/self/clear_refs", "w", encoding="ascii") as refs:
        refs.write("5")


async def answer_all(engine: Engine, asked: list[str], concurrency: int) -> None:
    limit = asyncio.Semaphore(concurrency)

    async def one(question: str) -> None:
        async with limit:
            await asyncio.to_thread(engine.ask, question)
            await asyncio.to_thread(engine.search, question)

    await asyncio.gather(*(one(q) for q in asked))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    from connectors.discord_bot import PaperbotBot  # imported as the bot imports it

    settings = load_settings()
    engine = Engine(settings)
    PaperbotBot(engine, settings)
    engine.ask("load the model and the indexes")
    loaded = rss_mb()
    asked = questions(engine, args.questions, DEV)
    gc.collect()
    reset_peak()
    asyncio.run(answer_all(engine, asked, args.concurrency))
    after, peak = rss_mb(), peak_mb()  # before counting: store.counts() loads the papers collection's index
    result = {
        "benchmark": "memory",
        "papers": len(engine.lexical().titles),
        "chunks": engine.store.chunk_count(),
        "questions": len(asked),
        "concurrency": args.concurrency,
        "chroma": "server" if settings.chroma.url else "embedded",
        "rss_loaded_mb": loaded,
        "rss_after_mb": after,
        "peak_rss_mb_while_answering": peak,
        "machine": machine_info(),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
