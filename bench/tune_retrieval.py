"""Sweep the retrieval settings on the current library and print JSON, one line per setting.

    PAPERBOT_HOME=DIR python -m bench.tune_retrieval tests/data/retrieval_eval.jsonl ['{"support": [0.1]}']

The optional JSON replaces lists of the default grid.

Tune on questions you wrote yourself (tests/data/retrieval_eval.jsonl on the sample
library), then check the chosen defaults once on held-out questions with `paperbot eval`.
"""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path

from assistant import retrieval
from assistant.engine import Engine
from assistant.evaluation import load_questions
from assistant.settings import Settings

GRID = {
    "fusion_k": [20.0, 60.0],
    "title_weight": [0.0, 0.5, 1.0],
    "diversity": [0.0, 0.15, 0.3],
    "support": [0.0, 0.3],
}
METRICS = ("recall@5", "recall@10", "mrr", "ndcg@10", "refusal_accuracy")


def main() -> None:
    questions = load_questions(Path(sys.argv[1]))
    grid = GRID | (json.loads(sys.argv[2]) if len(sys.argv) > 2 else {})
    base = Settings()
    embedder = Engine(base).embedder  # one model load for the whole sweep
    for values in itertools.product(*grid.values()):
        point = dict(zip(grid, values, strict=True))
        retrieval.SUPPORT_WEIGHT = point["support"]
        tuned = base.retrieval.model_copy(update={k: v for k, v in point.items() if k != "support"})
        engine = Engine(base.model_copy(update={"retrieval": tuned}), embedder=embedder)
        report = engine.evaluate(questions).to_dict()
        print(json.dumps(point | {m: report[m] for m in METRICS}), flush=True)


if __name__ == "__main__":
    main()
