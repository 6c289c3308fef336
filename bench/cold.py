"""Cold `paperbot ask`: a fresh process that imports, loads the model and answers; prints JSON.

    python -m bench.cold [--library HOME] [--runs 5] [--question TEXT]

`--library HOME` times a library you built (e.g. the 3k corpora): it is copied to a
temporary folder first, because Chroma writes to its files whenever a client starts, and a
benchmark must not change the library it measures. Without it, the bundled sample is
ingested into a temporary library (not timed). Each run is `paperbot ask QUESTION --json`
as a new process with the extractive answerer; the page cache is warm (an untimed first run
reads the files), so the figure is start-up work, not disk reads. Reports the median and
every run, wall and CPU time (user + system of the child), and the load average before and
after: on a shared machine the wall time of one run says little without them.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.machine import machine_info

QUESTION = "Which papers study length generalization in transformers?"


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_ask(env: dict[str, str], question: str) -> tuple[float, float]:
    """(wall, CPU) seconds of one `paperbot ask` process."""
    cpu, started = children_cpu(), time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "connectors.cli", "ask", question, "--json"],
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )
    return time.perf_counter() - started, children_cpu() - cpu


def library_papers(env: dict[str, str]) -> int:
    shown = subprocess.run(
        [sys.executable, "-m", "connectors.cli", "stats", "--json"], env=env, check=True, capture_output=True
    )
    return int(json.loads(shown.stdout)["papers"])


def measure(home: Path, runs: int, question: str) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERBOT_")} | {
        "PAPERBOT_HOME": str(home),
        "PAPERBOT_LLM": "extractive",
    }
    run_ask(env, question)  # the sample library's first use ingests it; both warm the page cache
    load_before = os.getloadavg()
    timings = [run_ask(env, question) for _ in range(runs)]
    walls, cpus = [w for w, _ in timings], [c for _, c in timings]
    return {
        "papers": library_papers(env),
        "median_s": round(statistics.median(walls), 3),
        "median_cpu_s": round(statistics.median(cpus), 3),
        "runs_s": [round(w, 3) for w in walls],
        "runs_cpu_s": [round(c, 3) for c in cpus],
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--library", type=Path, help="a library home to time (copied first, never written)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--question", default=QUESTION)
    args = parser.parse_args()
    if args.library is not None and not (args.library / "chroma").is_dir():
        parser.error(f"{args.library} is not a paperbot library (no chroma folder)")
    with tempfile.TemporaryDirectory() as scratch:
        home = Path(scratch) / "home"
        if args.library is not None:
            shutil.copytree(args.library, home)
        figures = measure(home, args.runs, args.question)
    result = {
        "benchmark": "cold",
        "question": args.question,
        "library": str(args.library) if args.library else "bundled sample",
        **figures,
        "machine": machine_info(),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
