"""paperbot against the pipeline a user would write with llama-index's defaults; prints JSON.

    pip install -e ".[bench]"
    python -m bench.baseline [--corpus DIR] [--questions FILE]

Both ingest the same parsed papers (../shared/corpora by default) in a temporary directory
and answer the same questions (../shared/eval/dev_questions.jsonl) in the same run:
- paperbot: `Engine.ingest` (chunking, embedding, Chroma, keyword index) and `Engine.search`;
- baseline: one llama-index Document per paper (title + abstract), `VectorStoreIndex` over a
  `ChromaVectorStore` with llama-index's default chunking (SentenceSplitter, 1024 tokens) and
  embedding batch size, the same MiniLM model wrapped as a llama-index embedding, and the
  default retriever (similarity_top_k=2). Recall@10 of the baseline is reported at its
  default top-k and, for a fairer comparison, at top-k 10.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from assistant.embeddings import Embedder
from assistant.engine import Engine
from assistant.evaluation import evaluate, load_questions
from assistant.ingest import read_library
from assistant.models import Paper
from assistant.settings import load_settings
from assistant.sources.common import title_key
from bench.ingest import CORPORA
from bench.machine import machine_info
from bench.query import DEV


def wrapped(embedder: Embedder) -> Any:
    """The paperbot model as a llama-index embedding, as a user would wrap a local model."""
    from llama_index.core.embeddings import BaseEmbedding

    class MiniLMEmbedding(BaseEmbedding):
        def _get_text_embedding(self, text: str) -> list[float]:
            return embedder.embed([text])[0].tolist()

        def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
            return embedder.embed(texts).tolist()

        def _get_query_embedding(self, query: str) -> list[float]:
            return self._get_text_embedding(query)

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return self._get_text_embedding(query)

    return MiniLMEmbedding(model_name=embedder.name)


def baseline_index(papers: list[Paper], embedder: Embedder, path: Path) -> tuple[Any, float]:
    import chromadb
    from llama_index.core import Document, StorageContext, VectorStoreIndex
    from llama_index.vector_stores.chroma import ChromaVectorStore

    started = time.perf_counter()
    collection = chromadb.PersistentClient(str(path)).get_or_create_collection("baseline")
    storage = StorageContext.from_defaults(vector_store=ChromaVectorStore(chroma_collection=collection))
    documents = [Document(text=f"{p.title}\n{p.abstract}", metadata={"title": p.title}) for p in papers]
    index = VectorStoreIndex.from_documents(documents, storage_context=storage, embed_model=wrapped(embedder))
    return index, time.perf_counter() - started


def titles_from(retriever: Any, question: str) -> list[str]:
    titles: list[str] = []
    for hit in retriever.retrieve(question):
        title = str(hit.node.metadata["title"])
        if title_key(title) not in {title_key(t) for t in titles}:
            titles.append(title)
    return titles


def recall(engine_search: Any, questions: Any, library: set[str]) -> dict[str, Any]:
    report = evaluate(questions, engine_search, lambda _: False, library, "baseline").to_dict()
    return {"recall_at_10": report["recall@10"], "mrr": report["mrr"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=CORPORA)
    parser.add_argument("--questions", type=Path, default=DEV)
    args = parser.parse_args()
    questions = load_questions(args.questions)
    with tempfile.TemporaryDirectory() as home:
        os.environ["PAPERBOT_HOME"] = home
        engine = Engine(load_settings())
        _, ours_s = engine.ingest([args.corpus])
        ours = engine.evaluate(questions).to_dict()
        papers, _ = read_library([args.corpus], None)
        index, theirs_s = baseline_index(papers, engine.embedder, Path(home) / "baseline")
        library = {title_key(p.title) for p in papers}
        default_k = recall(lambda q: titles_from(index.as_retriever(), q), questions, library)
        top_10 = recall(lambda q: titles_from(index.as_retriever(similarity_top_k=10), q), questions, library)
    result = {
        "benchmark": "baseline",
        "papers": len(papers),
        "questions": len(questions),
        "paperbot": {"ingest_s": round(ours_s, 1), "recall_at_10": ours["recall@10"], "mrr": ours["mrr"]},
        "llama_index_defaults": {"ingest_s": round(theirs_s, 1), "top_k_2": default_k, "top_k_10": top_10},
        "ingest_speed_ratio": round(theirs_s / ours_s, 2),  # > 1: paperbot ingests faster
        "recall_at_10_ratio": round(ours["recall@10"] / max(top_10["recall_at_10"], 1e-9), 3),
        "machine": machine_info(),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
