"""A synthetic library of any size for scale benchmarks, ingested with precomputed vectors.

    python -m bench.synth DIR [--papers 100000] [--seed 7] [--source PATH ...]
    PAPERBOT_HOME=LIB python -m bench.synth DIR --ingest

Generating writes DIR/papers.jsonl and DIR/pool.npz. Each synthetic paper recombines real
abstracts: the first sentences of one paper of the source corpora (default
../shared/corpora, else the bundled sample) followed by sentences of another, under the
first paper's title plus a number (titles stay unique, so nothing merges). Every distinct
sentence and title of the sources is embedded once into pool.npz; `--ingest` then ingests
papers.jsonl through the normal pipeline (parse, chunk, Chroma, keyword index) with an
embedder that composes each chunk's vector from the pool instead of running the model, so
100k papers need minutes, not hours. Benchmarks only: the vectors are means of real
sentence vectors, close to but not the model's own.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from assistant.embeddings import Embedder, normalize
from assistant.engine import Engine, sample_library
from assistant.ingest import read_library
from assistant.models import Paper
from assistant.text import split_sentences
from bench.ingest import CORPORA
from bench.machine import machine_info

NUMBERED = re.compile(r" \(\d+\)$")


def source_papers(paths: Sequence[Path]) -> list[Paper]:
    papers, _ = read_library(paths, None)
    return [p for p in papers if len(split_sentences(p.abstract)) >= 2]


def synthetic(papers: list[Paper], count: int, seed: int) -> list[dict[str, object]]:
    rng = random.Random(seed)
    rows = []
    for n in range(count):
        head, tail = rng.choice(papers), rng.choice(papers)
        first, second = split_sentences(head.abstract), split_sentences(tail.abstract)
        cut = rng.randint(1, len(first) - 1)
        start = rng.randint(0, len(second) - 1)
        abstract = " ".join(first[:cut] + second[start : start + len(first) - cut])  # about the head's length
        day = f"{rng.randint(2019, 2026)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        rows.append({"id": f"synth-{n}", "title": f"{head.title} ({n})", "abstract": abstract, "date": day})
    return rows


def generate(out: Path, count: int, seed: int, sources: Sequence[Path]) -> dict[str, object]:
    papers = source_papers(sources)
    out.mkdir(parents=True, exist_ok=True)
    with (out / "papers.jsonl").open("w", encoding="utf-8") as handle:
        for row in synthetic(papers, count, seed):
            handle.write(json.dumps(row) + "\n")
    pieces = sorted({p.title for p in papers} | {s for p in papers for s in split_sentences(p.abstract)})
    started = time.perf_counter()
    vectors = Engine().embedder.embed(pieces)
    np.savez(out / "pool.npz", texts=np.array(pieces, dtype=object), vectors=vectors)
    return {
        "papers": count,
        "source_papers": len(papers),
        "pool": len(pieces),
        "pool_embed_s": round(time.perf_counter() - started, 1),
    }


class PoolEmbedder:
    """Chunk vector = normalized mean of the pool vectors of its title and sentences; the
    model only for pieces not in the pool (a sentence a chunk boundary cut in two)."""

    def __init__(self, pool: Path, model: Embedder) -> None:
        data = np.load(pool, allow_pickle=True)  # our own file, written by generate()
        self.rows = {text: i for i, text in enumerate(data["texts"])}
        self.vectors = data["vectors"]
        self.model = model
        self.name = model.name  # the library must accept queries embedded by the real model
        self.model_pieces = 0

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        pieces = [self._pieces(text) for text in texts]
        unknown = sorted({p for parts in pieces for p in parts if p not in self.rows})
        extra = dict(zip(unknown, self.model.embed(unknown), strict=True)) if unknown else {}
        self.model_pieces += len(unknown)
        means = [
            np.mean([self.vectors[self.rows[p]] if p in self.rows else extra[p] for p in parts], axis=0)
            for parts in pieces
        ]
        return normalize(np.asarray(means, dtype=np.float32))

    @staticmethod
    def _pieces(text: str) -> list[str]:
        title, _, body = text.partition("\n")
        return [NUMBERED.sub("", title), *split_sentences(body)]


def ingest(out: Path) -> dict[str, object]:
    engine = Engine()
    pooled = PoolEmbedder(out / "pool.npz", engine.embedder)
    report, seconds = Engine(engine.settings, embedder=pooled).ingest([out / "papers.jsonl"])
    papers, chunks = engine.store.counts()
    return {
        "added": report.added,
        "papers": papers,
        "chunks": chunks,
        "ingest_s": round(seconds, 1),
        "papers_per_s": round(report.added / seconds, 1) if seconds else None,
        "model_pieces": pooled.model_pieces,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--papers", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--source", type=Path, nargs="*")
    parser.add_argument("--ingest", action="store_true", help="ingest DIR/papers.jsonl into PAPERBOT_HOME")
    args = parser.parse_args()
    if args.ingest:
        result = {"benchmark": "synth-ingest"} | ingest(args.out)
    else:
        sources = args.source or ([CORPORA] if CORPORA.exists() else [sample_library()])
        result = {"benchmark": "synth-generate"} | generate(args.out, args.papers, args.seed, sources)
    print(json.dumps(result | {"machine": machine_info()}, indent=2))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
