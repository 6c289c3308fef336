"""Fakes for the boundaries the tests own: a deterministic, fast embedder."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

from assistant.embeddings import normalize

WORD = re.compile(r"\w+")


class HashingEmbedder:
    """Bag of words hashed into 64 dimensions: same words, close vectors. Counts its calls."""

    name = "fake-hashing"

    def __init__(self, fail_after: int | None = None) -> None:
        self.calls = 0
        self.texts_embedded = 0
        self.fail_after = fail_after

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if self.fail_after is not None and self.calls >= self.fail_after:
            raise RuntimeError("embedder died (simulated interruption)")
        self.calls += 1
        self.texts_embedded += len(texts)
        vectors = np.zeros((len(texts), 64), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in WORD.findall(text.casefold()):
                vectors[row, int(hashlib.md5(word.encode()).hexdigest(), 16) % 64] += 1.0
        return normalize(vectors + 1e-6)
