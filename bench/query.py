"""Warm query latency on the current library: search and extractive ask, p50/p95; prints JSON.

    PAPERBOT_HOME=DIR python -m bench.query [--questions N] [--file QUESTIONS.jsonl]

Questions: the file's (default ../shared/eval/dev_questions.jsonl when it exists) plus
titles of papers in the library (seeded sample) until there are N (default 120).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from pathlib import Path

from assistant.engine import Engine
from bench.machine import machine_info

DEV = Path(__file__).resolve().parents[2] / "shared" / "eval" / "dev_questions.jsonl"


def questions(engine: Engine, wanted: int, path: Path | None) -> list[str]:
    asked = []
    if path is not None and path.exists():
        asked = [json.loads(line)["question"] for line in path.read_text().splitlines() if line.strip()]
    # From the keyword index, which holds the records: reading them from Chroma would load the
    # papers collection's vector index, which the bot itself never needs to answer.
    index = engine.lexical()
    ids = sorted(index.paper_ids())
    random.Random(7).shuffle(ids)
    chosen = ids[: max(wanted - len(asked), 0)]
    records = index.papers(chosen)
    return (asked + [records[pid].title for pid in chosen if pid in records])[: max(wanted, len(asked))]


def percentiles(seconds: list[float]) -> dict[str, float]:
    ordered = sorted(seconds)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"p50_ms": round(statistics.median(ordered) * 1000, 1), "p95_ms": round(p95 * 1000, 1)}


def timed(call: object, items: list[str]) -> list[float]:
    spent = []
    for item in items:
        started = time.perf_counter()
        call(item)  # type: ignore[operator]
        spent.append(time.perf_counter() - started)
    return spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--questions", type=int, default=120)
    parser.add_argument("--file", type=Path, default=DEV)
    args = parser.parse_args()
    engine = Engine()
    papers, chunks = engine.store.counts()
    asked = questions(engine, args.questions, args.file)
    engine.ask("warm up the model, the store and the keyword index")
    result = {
        "benchmark": "query",
        "papers": papers,
        "chunks": chunks,
        "questions": len(asked),
        "search": percentiles(timed(engine.search, asked)),
        "ask_extractive": percentiles(timed(engine.ask, asked)),
        "machine": machine_info(),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
