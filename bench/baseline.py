"""paperbot's ingest against the pipeline a user would write with llama-index's defaults; prints JSON.

    pip install -e ".[bench]"
    python -m bench.baseline [--corpus DIR] [--questions FILE] [--rounds 1] [--no-recall]

Each ingest runs in its own fresh process and temporary library, alternating A B B A per
round (A = paperbot, B = llama-index defaults), so neither side profits from the other's
warm caches or imports and a burst of background load hits both. Each child times its ingest
phase (parsing included; imports and model load excluded, since both load the same model)
in wall time and in CPU time (`time.process_time`, all threads of the process). The parent
reports per-paper figures for every run, the medians, and the ratio baseline/paperbot
(> 1: paperbot is faster) with its spread: the smallest and largest ratio over every pair
of runs. CPU time is the figure to trust on a shared machine; wall time on an idle one.

- paperbot: `Engine.ingest` (chunking, embedding, Chroma, keyword index).
- baseline: one llama-index Document per paper (title + abstract), `VectorStoreIndex` over a
  `ChromaVectorStore` with llama-index's default chunking (SentenceSplitter, 1024 tokens) and
  embedding batch size, the same MiniLM model wrapped as a llama-index embedding.

Recall@10 and MRR on the dev questions are measured once per pipeline (after its first
ingest, untimed); the baseline at its default top-k (2) and at 10.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.ingest import CORPORA
from bench.machine import machine_info
from bench.query import DEV

PIPELINES = {"A": "paperbot", "B": "llama_index_defaults"}


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_child(pipeline: str, args: argparse.Namespace, recall: bool) -> dict[str, Any]:
    """One fresh process ingesting the corpus; its own timings plus the parent's view of it."""
    command = [sys.executable, "-m", "bench.baseline_child", pipeline, str(args.corpus), str(args.questions)]
    if recall:
        command.append("--recall")
    cpu_before, started = children_cpu(), time.perf_counter()
    with tempfile.TemporaryDirectory() as home:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERBOT_")} | {"PAPERBOT_HOME": home}
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=3600)
    if done.returncode:
        raise SystemExit(f"{pipeline} failed:\n{done.stderr[-2000:]}")
    figures: dict[str, Any] = json.loads(done.stdout)
    figures["process_wall_s"] = round(time.perf_counter() - started, 2)
    figures["process_cpu_s"] = round(children_cpu() - cpu_before, 2)
    return figures


def per_paper_ms(runs: list[dict[str, Any]], key: str) -> list[float]:
    return [round(1000 * run[key] / run["papers"], 2) for run in runs]


def ratio(theirs: list[float], ours: list[float]) -> dict[str, float]:
    pairs = [t / o for t in theirs for o in ours]
    return {
        "median": round(statistics.median(theirs) / statistics.median(ours), 3),
        "min": round(min(pairs), 3),
        "max": round(max(pairs), 3),
    }


def summarise(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name, own in runs.items():
        result[name] = {
            "papers": own[0]["papers"],
            "embedded_texts": own[0]["embedded_texts"],
            "ingest_wall_ms_per_paper": per_paper_ms(own, "ingest_wall_s"),
            "ingest_cpu_ms_per_paper": per_paper_ms(own, "ingest_cpu_s"),
            "process_wall_s": [run["process_wall_s"] for run in own],
            "process_cpu_s": [run["process_cpu_s"] for run in own],
            "quality": next((run["quality"] for run in own if "quality" in run), None),
        }
    ours, theirs = result["paperbot"], result["llama_index_defaults"]
    result["speed_ratio"] = {  # > 1: paperbot needs less time per paper
        "cpu": ratio(theirs["ingest_cpu_ms_per_paper"], ours["ingest_cpu_ms_per_paper"]),
        "wall": ratio(theirs["ingest_wall_ms_per_paper"], ours["ingest_wall_ms_per_paper"]),
    }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=CORPORA)
    parser.add_argument("--questions", type=Path, default=DEV)
    parser.add_argument("--rounds", type=int, default=1, help="A B B A sequences to run")
    parser.add_argument("--no-recall", action="store_true", help="skip the dev-question quality figures")
    args = parser.parse_args()
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in PIPELINES.values()}
    order = "ABBA" * args.rounds
    for letter in order:
        name = PIPELINES[letter]
        runs[name].append(run_child(name, args, recall=not args.no_recall and not runs[name]))
        print(f"{name}: {runs[name][-1]['ingest_wall_s']} s", file=sys.stderr, flush=True)
    result = {"benchmark": "baseline", "order": order, **summarise(runs), "machine": machine_info()}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
