"""Embedders turn texts into unit vectors. One required method: `embed`."""

from __future__ import annotations

from collections.abc import Sequence
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
    if settings.embedding.provider == "openai":
        from assistant.embeddings.remote import OpenAIEmbedder

        return OpenAIEmbedder(settings)
    from assistant.embeddings.local import LocalMiniLM

    return LocalMiniLM(batch_size=settings.embedding.batch_size, threads=settings.embedding.threads)
