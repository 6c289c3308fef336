"""Where the relevance gate should sit, from questions labelled in- or out-of-library; prints JSON.

    PAPERBOT_HOME=DIR python -m bench.calibrate_gate tests/data/gate_calibration.jsonl

Each line: {"question": str, "in_library": bool}. The gate score is what `ask` reads: the
best similarity between the question and a chunk of one of the top-k papers. A good
threshold sits in the gap between the highest off-topic score and the lowest in-library one.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from assistant.engine import Engine
from assistant.retrieval import gate_score


def main() -> None:
    rows = [json.loads(line) for line in Path(sys.argv[1]).read_text().splitlines() if line.strip()]
    engine = Engine()
    scores = {True: [], False: []}  # type: dict[bool, list[float]]
    for row in rows:
        scores[bool(row["in_library"])].append(gate_score(engine.search(row["question"])))
    highest_off, lowest_in = max(scores[False]), min(scores[True])
    threshold = engine.settings.retrieval.min_score
    print(
        json.dumps(
            {
                "in_library": len(scores[True]),
                "off_topic": len(scores[False]),
                "lowest_in_library": round(lowest_in, 3),
                "highest_off_topic": round(highest_off, 3),
                "midpoint": round((lowest_in + highest_off) / 2, 3),
                "min_score": threshold,
                "separates": highest_off < threshold <= lowest_in,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
