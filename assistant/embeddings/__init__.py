"""Embedders turn texts into unit vectors. One required method: `embed`."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    from assistant.settings import Settings


class Embedder(Protocol):
    """`name` is stored with the index, so vectors of different models never mix."""

    name: str

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """A float32 array of shape (len(texts), dim), each row of unit length."""
        ...


def normalize(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)


def build_embedder(settings: Settings) -> Embedder:
    """The embedder the settings choose; imports stay lazy so start-up stays quick."""
    return embedder_factory(settings)()


def embedder_name(settings: Settings) -> str:
    """The name of the embedder the settings choose, without loading it: opening the store
    checks it, and the model need not be loaded for that."""
    if settings.embedding.provider == "openai":
        return f"openai:{settings.embedding.model}"
    from assistant.embeddings.local import MODEL_NAME

    return MODEL_NAME


def embedder_factory(settings: Settings) -> Callable[[], Embedder]:
    """What builds the embedder, its modules imported and its model file found now, in the
    caller's thread: two threads importing one module can see it half-initialised."""
    if settings.embedding.provider == "openai":
        import openai  # noqa: F401  (OpenAIEmbedder imports it when built)

        from assistant.embeddings.remote import OpenAIEmbedder

        return functools.partial(OpenAIEmbedder, settings)
    from assistant.embeddings.local import LocalMiniLM, model_file

    model = model_file()
    return functools.partial(LocalMiniLM, settings.embedding.batch_size, settings.embedding.threads, model)


def start_embedder(settings: Settings) -> Future[Embedder]:
    """Builds the embedder on a worker thread. onnxruntime releases the GIL while it prepares
    the model, so a cold command loads the model while its main thread imports and opens the
    store; `Future.result()` waits for it, or raises what loading raised."""
    factory = embedder_factory(settings)
    loader = ThreadPoolExecutor(1, thread_name_prefix="paperbot-embedder")
    try:
        return loader.submit(factory)
    finally:
        loader.shutdown(wait=False)
