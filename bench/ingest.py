"""Ingest throughput next to the embedding model's own, on the same texts; prints JSON.

    python -m bench.ingest [CORPUS ...] [--rounds 2]      (default ../shared/corpora)

Each round runs both sides, in alternating order (P M, then M P, ...: A B B A), so that
warm-up, a process's first touch of fresh memory and background load hit both sides alike:
- the pipeline: a first ingest (parse, chunk, embed, Chroma, keyword index) into a fresh
  temporary library with a freshly loaded model, timed; its embedder records every text;
- the model alone on exactly those texts (recorded by the first round's pipeline), in one
  call to a freshly loaded model, timed.
The first round also times an unchanged re-ingest.

Both are timed in wall time and in CPU time (`time.process_time`: all threads of this
process, so onnxruntime's and Chroma's worker threads count). `pipeline_vs_model` is the
model alone's time over the pipeline's, median over rounds: 1.0 would mean the pipeline adds
nothing to the model's own time. On a shared machine trust the CPU figure; wall on an idle one.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from assistant.embeddings import Embedder, build_embedder
from assistant.embeddings.tokenizer import count_tokens
from assistant.engine import Engine
from assistant.settings import load_settings
from bench.machine import machine_info, timed

CORPORA = Path(__file__).resolve().parents[2] / "shared" / "corpora"


class Recording:
    """The real embedder, keeping every text it was given and the time it spent."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.name = inner.name
        self.texts: list[str] = []
        self.seconds = 0.0

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        started = time.perf_counter()
        vectors = self.inner.embed(texts)
        self.seconds += time.perf_counter() - started
        self.texts.extend(texts)
        return vectors


def fresh_model() -> Embedder:
    embedder = build_embedder(load_settings())
    embedder.embed(["load the model before timing"])
    return embedder


def warm_up(engine: Engine) -> None:
    """One-time start-up outside the timing, as the model's load is: the chunker's imports
    (llama-index, ~1 s) and opening Chroma. Throughput is what is compared here; start-up
    has its own benchmark (bench.cold)."""
    import assistant.chunking  # noqa: F401

    engine.store.is_empty()


def pipeline_round(paths: list[Path], again: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as home:
        os.environ["PAPERBOT_HOME"] = home
        settings = load_settings()
        recording = Recording(fresh_model())
        engine = Engine(settings, embedder=recording)
        warm_up(engine)
        (report, _), wall, cpu = timed(lambda: engine.ingest(paths))
        figures = {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "model_wall_s": round(recording.seconds, 2)}
        papers, chunks = engine.store.counts()
        figures |= {"papers": papers, "chunks": chunks, "added": report.added}
        if again:
            (rerun, _), rerun_wall, _ = timed(lambda: Engine(settings, embedder=recording.inner).ingest(paths))
            figures["unchanged_rerun"] = {"wall_s": round(rerun_wall, 2), "unchanged": rerun.unchanged}
    return figures | {"texts": recording.texts}


def model_round(texts: list[str]) -> dict[str, Any]:
    model = fresh_model()
    _, wall, cpu = timed(lambda: model.embed(texts))
    return {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2)}


def ratios(pipeline: list[dict[str, Any]], model: list[dict[str, Any]], key: str) -> dict[str, float]:
    values = [m[key] / p[key] for p, m in zip(pipeline, model, strict=True)]
    return {"median": round(statistics.median(values), 3), "min": round(min(values), 3), "max": round(max(values), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("paths", type=Path, nargs="*", default=[CORPORA])
    parser.add_argument("--rounds", type=int, default=2, help="pipeline + model-alone pairs")
    args = parser.parse_args()
    pipeline: list[dict[str, Any]] = []
    model: list[dict[str, Any]] = []
    for round_ in range(args.rounds):
        if round_ % 2 == 0:
            pipeline.append(pipeline_round(args.paths, again=round_ == 0))
            model.append(model_round(pipeline[0]["texts"]))
        else:
            model.append(model_round(pipeline[0]["texts"]))
            pipeline.append(pipeline_round(args.paths, again=False))
    texts = pipeline[0].pop("texts")
    for run in pipeline[1:]:
        run.pop("texts")
    papers, tokens = pipeline[0]["papers"], sum(len(count_tokens(text)) for text in texts)
    result = {
        "benchmark": "ingest",
        "corpus": [str(p) for p in args.paths],
        "papers": papers,
        "chunks": pipeline[0]["chunks"],
        "embedded_texts": len(texts),
        "tokens": tokens,
        "pipeline": pipeline,
        "model_alone": model,
        "pipeline_papers_per_s": round(papers / statistics.median(p["wall_s"] for p in pipeline), 1),
        "model_papers_per_s": round(papers / statistics.median(m["wall_s"] for m in model), 1),
        "pipeline_vs_model": {"cpu": ratios(pipeline, model, "cpu_s"), "wall": ratios(pipeline, model, "wall_s")},
        "embedder": build_embedder(load_settings()).name,
        "machine": machine_info() | {"load_average": os.getloadavg()},
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
