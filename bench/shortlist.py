"""What the extractive shortlist trades: answer time against how close the quoted sentences
are to the question, compared with scoring every sentence (shortlist 0); prints JSON.

    PAPERBOT_HOME=DIR python -m bench.shortlist [--sizes 1 2 3] [--questions N]

quality_ratio: mean over answered questions of (mean cosine of the quoted sentences to the
question with the shortlist) / (the same with every sentence scored).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np

from assistant.answering import ExtractiveAnswerer
from assistant.engine import Engine
from assistant.models import Answer
from bench.machine import machine_info
from bench.query import DEV, questions


def closeness(engine: Engine, answer: Answer) -> float:
    quoted = [part.rsplit(" [", 1)[0] for part in answer.text.split("] ") if part]
    vectors = engine.embedder.embed([answer.question, *quoted])
    return float(np.mean(vectors[1:] @ vectors[0]))


def run(engine: Engine, size: int, asked: list[tuple[str, list]]) -> tuple[list[float], list[Answer]]:
    settings = engine.settings.answer.model_copy(update={"shortlist": size})
    answerer = ExtractiveAnswerer(engine.embedder, settings, engine.settings.retrieval.min_score)
    spent, answers = [], []
    for question, papers in asked:
        started = time.perf_counter()
        answers.append(answerer.answer(question, papers))
        spent.append(time.perf_counter() - started)
    return spent, answers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 2, 3, 4])
    parser.add_argument("--questions", type=int, default=120)
    args = parser.parse_args()
    engine = Engine()
    asked = [(q, engine.search(q)) for q in questions(engine, args.questions, DEV)]
    full_time, full = run(engine, 0, asked)
    reference = [closeness(engine, a) if not a.refused else None for a in full]
    rows = {"0": {"answer_p50_ms": round(statistics.median(full_time) * 1000, 1), "quality_ratio": 1.0}}
    for size in args.sizes:
        spent, answers = run(engine, size, asked)
        ratios = [closeness(engine, a) / ref for a, ref in zip(answers, reference, strict=True) if ref]
        rows[str(size)] = {
            "answer_p50_ms": round(statistics.median(spent) * 1000, 1),
            "quality_ratio": round(statistics.mean(ratios), 3),
            "same_answer": sum(a.text == b.text for a, b in zip(answers, full, strict=True)),
        }
    papers, _ = engine.store.counts()
    print(
        json.dumps(
            {
                "benchmark": "shortlist",
                "papers": papers,
                "questions": len(asked),
                "sizes": rows,
                "machine": machine_info(),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
