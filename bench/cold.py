"""Cold `paperbot ask`: a fresh process that imports, loads the model and answers; prints JSON.

    python -m bench.cold [--runs 5]

Uses a temporary library with the bundled sample ingested once (not timed), then times
`paperbot ask` as a new process each run and reports the median and every run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from bench.machine import machine_info

QUESTION = "Which papers study length generalization in transformers?"


def run_ask(env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "connectors.cli", "ask", QUESTION, "--json"],
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERBOT_")} | {"PAPERBOT_HOME": home}
        run_ask(env)  # the first use ingests the sample library; not part of the figure
        runs = [run_ask(env) for _ in range(args.runs)]
    result = {
        "benchmark": "cold",
        "question": QUESTION,
        "library": "bundled sample (211 papers)",
        "median_s": round(statistics.median(runs), 3),
        "runs_s": [round(r, 3) for r in runs],
        "machine": machine_info(),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
