"""Keyword-index latency on an existing home: opening the index (building it when needed) and
the BM25 chunk and title rankings for each dev question, warm. Prints JSON.

    PAPERBOT_HOME=... python -m bench.keyword /work/shared/eval/dev_questions.jsonl
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

from assistant.engine import Engine
from assistant.lexical import terms
from assistant.models import Filters
from assistant.settings import load_settings

DEPTH = 40
ROUNDS = 5


def main(questions_file: Path) -> None:
    questions = [json.loads(line)["question"] for line in questions_file.read_text().splitlines() if line.strip()]
    engine = Engine(load_settings())
    started = time.perf_counter()
    index = engine.lexical()
    opened = time.perf_counter() - started
    timings = []
    for _ in range(ROUNDS):
        for question in questions:
            query = terms(question)
            begin = time.perf_counter()
            index.chunks.top(query, DEPTH, Filters())
            index.titles.top(query, DEPTH, Filters())
            timings.append((time.perf_counter() - begin) * 1000)
    report = {
        "papers": engine.store.counts()[0],
        "chunks": engine.store.counts()[1],
        "open_s": round(opened, 3),
        "queries": len(timings),
        "median_ms": round(statistics.median(timings), 2),
        "p95_ms": round(sorted(timings)[int(0.95 * len(timings)) - 1], 2),
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
