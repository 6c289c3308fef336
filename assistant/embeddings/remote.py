"""Embeddings from OpenAI or any OpenAI-compatible server (vLLM, Ollama, llama.cpp)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from assistant.embeddings import normalize
from assistant.errors import PaperbotError

if TYPE_CHECKING:
    from assistant.settings import Settings


class OpenAIEmbedder:
    def __init__(self, settings: Settings) -> None:
        import openai

        config = settings.embedding
        key = settings.openai_api_key()
        if key is None and config.base_url is None:
            raise PaperbotError("embedding provider 'openai' needs OPENAI_API_KEY or PAPERBOT_EMBEDDING_BASE_URL")
        self.client = openai.OpenAI(
            api_key=key or "not-needed", base_url=config.base_url, timeout=config.timeout, max_retries=3
        )
        self.model = config.model
        self.batch_size = config.batch_size
        self.name = f"openai:{config.model}"

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        import openai

        rows: list[list[float]] = []
        try:
            for start in range(0, len(texts), self.batch_size):
                batch = list(texts[start : start + self.batch_size])
                response = self.client.embeddings.create(model=self.model, input=batch)
                rows.extend(item.embedding for item in sorted(response.data, key=lambda d: d.index))
        except openai.OpenAIError as exc:
            raise PaperbotError(f"embedding server failed: {exc}") from None
        return normalize(np.asarray(rows, dtype=np.float32))
