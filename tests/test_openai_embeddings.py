"""The openai embedding provider against a local OpenAI-compatible server, real client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from assistant.embeddings import build_embedder
from assistant.engine import Engine
from assistant.errors import PaperbotError
from assistant.settings import EmbeddingSettings, Settings
from tests.openai_server import FakeOpenAI


@pytest.fixture
def server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake


def remote_settings(server: FakeOpenAI, home: Path, batch_size: int = 2) -> Settings:
    embedding = EmbeddingSettings(
        provider="openai", model="tiny-embed", base_url=server.base_url, batch_size=batch_size
    )
    return Settings(home=home, embedding=embedding)


def test_remote_embeddings_batch_and_keep_order(server: FakeOpenAI, tmp_path: Path) -> None:
    embedder = build_embedder(remote_settings(server, tmp_path))
    texts = ["tide pools", "coral reefs", "kelp forests", "tide pools again"]
    vectors = embedder.embed(texts)
    assert len(server.requests) == 2 and server.requests[0]["body"]["model"] == "tiny-embed"
    assert np.allclose(vectors, server.embedder.embed(texts), atol=1e-5)
    assert embedder.name == "openai:tiny-embed"


def test_engine_ingests_and_searches_through_the_server(server: FakeOpenAI, tmp_path: Path, data: Path) -> None:
    engine = Engine(remote_settings(server, tmp_path / "home", batch_size=16))
    engine.ingest([data / "plain.jsonl", data / "plain.csv"])
    assert engine.search("kelp urchins", k=1)[0].paper.title == "Kelp Forests at Night"


def test_server_errors_are_retried_then_reported(server: FakeOpenAI, tmp_path: Path) -> None:
    embedder = build_embedder(remote_settings(server, tmp_path))
    server.fail_next = [503]
    assert embedder.embed(["retried once"]).shape[0] == 1
    server.fail_next = [400]
    with pytest.raises(PaperbotError, match="embedding server failed"):
        embedder.embed(["bad request"])


def test_openai_provider_needs_a_key_or_a_server(tmp_path: Path) -> None:
    with pytest.raises(PaperbotError, match="needs OPENAI_API_KEY"):
        build_embedder(Settings(home=tmp_path, embedding=EmbeddingSettings(provider="openai")))
