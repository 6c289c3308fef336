"""Retrieval and answer figures for a questions file on the current library; prints JSON.

    python -m bench.dev_questions QUESTIONS.jsonl

Each line: {"question": str, "relevant_titles": [str]}; an empty list means the library
holds no answer and paperbot should refuse.
"""

from __future__ import annotations

import json
import re
import statistics
import sys
import time
from pathlib import Path

from assistant.engine import Engine
from assistant.sources.common import title_key

CITATION = re.compile(r"\[(\d+)\]")


def evaluate(engine: Engine, rows: list[dict[str, object]]) -> dict[str, object]:
    hits, refusals_ok, citations_ok, latencies, misses = 0, 0, 0, [], []
    answerable = [r for r in rows if r["relevant_titles"]]
    for row in rows:
        question, relevant = str(row["question"]), {title_key(t) for t in row["relevant_titles"]}  # type: ignore[attr-defined]
        started = time.perf_counter()
        results = engine.search(question, k=5)
        latencies.append(time.perf_counter() - started)
        answer = engine.ask(question)
        cited = {int(n) for n in CITATION.findall(answer.text)}
        citations_ok += cited == {c.n for c in answer.citations}
        if not relevant:
            refusals_ok += answer.refused
            continue
        found = any(title_key(r.paper.title) in relevant for r in results)
        hits += found
        refusals_ok += not answer.refused
        if not found:
            misses.append(question)
    return {
        "questions": len(rows),
        "answerable": len(answerable),
        "top5_hit_rate": round(hits / max(len(answerable), 1), 4),
        "refusal_accuracy": round(refusals_ok / len(rows), 4),
        "citations_resolve": round(citations_ok / len(rows), 4),
        "search_latency_median_ms": round(statistics.median(latencies) * 1000, 1),
        "misses": misses,
    }


def main() -> None:
    path = Path(sys.argv[1])
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    engine = Engine()
    engine.search("warm up the model and the index", k=5)
    print(json.dumps(evaluate(engine, rows), indent=2))


if __name__ == "__main__":
    main()
