"""Ingest throughput next to the embedding model's own, on the same chunks; prints JSON.

    python -m bench.ingest [CORPUS ...]      (default ../shared/corpora)

One run, in a temporary library:
1. first ingest (parse, chunk, embed, write to Chroma, build the keyword index), timed;
2. the same ingest again, unchanged, timed;
3. the model alone on exactly the texts the pipeline embedded (recorded in step 1), timed.

`pipeline_vs_model` is pipeline papers/s over model-alone papers/s on the same chunks: 1.0
would mean the pipeline adds nothing to the model's time.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from assistant.embeddings import Embedder
from assistant.embeddings.tokenizer import count_tokens
from assistant.engine import Engine
from assistant.settings import load_settings
from bench.machine import machine_info

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


def rate(count: float, seconds: float) -> float:
    return round(count / seconds, 1) if seconds else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("paths", type=Path, nargs="*", default=[CORPORA])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        os.environ["PAPERBOT_HOME"] = home
        settings = load_settings()
        probe = Engine(settings)
        recording = Recording(probe.embedder)
        engine = Engine(settings, embedder=recording)
        first, first_s = engine.ingest(args.paths)
        again, again_s = Engine(settings, embedder=recording).ingest(args.paths)
        texts = recording.texts
        started = time.perf_counter()
        probe.embedder.embed(texts)
        model_s = time.perf_counter() - started
        papers, chunks = engine.store.counts()
    tokens = sum(len(count_tokens(text)) for text in texts)
    result = {
        "benchmark": "ingest",
        "corpus": [str(p) for p in args.paths],
        "papers": papers,
        "chunks": chunks,
        "embedded_texts": len(texts),
        "tokens": tokens,
        "first_run": {
            "seconds": round(first_s, 2),
            "papers_per_s": rate(papers, first_s),
            "tokens_per_s": rate(tokens, first_s),
            "of_which_model_s": round(recording.seconds, 2),
            "added": first.added,
        },
        "model_alone": {
            "seconds": round(model_s, 2),
            "papers_per_s": rate(papers, model_s),
            "tokens_per_s": rate(tokens, model_s),
        },
        "pipeline_vs_model": round(model_s / first_s, 3),
        "unchanged_rerun": {
            "seconds": round(again_s, 2),
            "of_first_run": round(again_s / first_s, 3),
            "unchanged": again.unchanged,
        },
        "embedder": recording.name,
        "machine": machine_info(),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
