"""One ingest for bench.baseline, in a fresh process: prints its timings (and quality) as JSON.

    python -m bench.baseline_child paperbot|llama_index_defaults CORPUS QUESTIONS [--recall]

The model is loaded and run once before timing starts, for both pipelines. The timed phase
is everything from reading the files to a searchable index.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from assistant.embeddings import Embedder
from assistant.engine import Engine
from assistant.evaluation import evaluate, load_questions
from assistant.ingest import read_library
from assistant.settings import load_settings
from assistant.sources.common import title_key
from bench.machine import timed


class Counting:
    """The real embedder, counting the texts it embeds."""

    def __init__(self, inner: Embedder) -> None:
        self.inner, self.name, self.texts = inner, inner.name, 0

    def embed(self, texts: Any) -> Any:
        self.texts += len(texts)
        return self.inner.embed(texts)


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


def llama_index_ingest(corpus: Path, embedder: Embedder, home: Path) -> tuple[int, Any]:
    import chromadb
    from chromadb.config import Settings as ChromaSettings
    from llama_index.core import Document, StorageContext, VectorStoreIndex
    from llama_index.vector_stores.chroma import ChromaVectorStore

    papers, _ = read_library([corpus], None)
    client = chromadb.PersistentClient(str(home / "baseline"), ChromaSettings(anonymized_telemetry=False))
    collection = client.create_collection("baseline")
    storage = StorageContext.from_defaults(vector_store=ChromaVectorStore(chroma_collection=collection))
    documents = [Document(text=f"{p.title}\n{p.abstract}", metadata={"title": p.title}) for p in papers]
    index = VectorStoreIndex.from_documents(documents, storage_context=storage, embed_model=wrapped(embedder))
    return len(papers), index


def titles_from(retriever: Any, question: str) -> list[str]:
    titles: list[str] = []
    for hit in retriever.retrieve(question):
        title = str(hit.node.metadata["title"])
        if title_key(title) not in {title_key(t) for t in titles}:
            titles.append(title)
    return titles


def quality(search: Callable[[str], list[str]], questions_file: Path, library: set[str]) -> dict[str, Any]:
    report = evaluate(load_questions(questions_file), search, lambda _: False, library, "baseline").to_dict()
    return {"recall_at_10": report["recall@10"], "mrr": report["mrr"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("pipeline", choices=["paperbot", "llama_index_defaults"])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("questions", type=Path)
    parser.add_argument("--recall", action="store_true")
    args = parser.parse_args()
    settings = load_settings()
    embedder = Counting(Engine(settings).embedder)
    embedder.inner.embed(["load the model before timing"])
    figures: dict[str, Any] = {"pipeline": args.pipeline}
    if args.pipeline == "paperbot":
        engine = Engine(settings, embedder=embedder)
        _, wall, cpu = timed(lambda: engine.ingest([args.corpus]))
        figures |= {"papers": engine.store.counts()[0], "embedded_texts": embedder.texts}
        if args.recall:
            report = engine.evaluate(load_questions(args.questions)).to_dict()
            figures["quality"] = {"recall_at_10": report["recall@10"], "mrr": report["mrr"]}
    else:
        (papers, index), wall, cpu = timed(lambda: llama_index_ingest(args.corpus, embedder, settings.home))
        figures |= {"papers": papers, "embedded_texts": embedder.texts}
        if args.recall:
            library = {title_key(p.title) for p in read_library([args.corpus], None)[0]}
            figures["quality"] = {
                "top_k_2": quality(lambda q: titles_from(index.as_retriever(), q), args.questions, library),
                "top_k_10": quality(
                    lambda q: titles_from(index.as_retriever(similarity_top_k=10), q), args.questions, library
                ),
            }
    figures |= {"ingest_wall_s": round(wall, 2), "ingest_cpu_s": round(cpu, 2)}
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
