from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from assistant.embeddings import local
from assistant.embeddings.local import LocalMiniLM
from assistant.errors import PaperbotError
from assistant.memory import status_mb
from tests.fakes import HashingEmbedder


@pytest.fixture(scope="module")
def minilm() -> LocalMiniLM:
    return LocalMiniLM(batch_size=4)


@pytest.mark.parametrize("name", ["minilm", "fake"])
def test_embedders_keep_order_and_unit_length(name: str, request: pytest.FixtureRequest) -> None:
    embedder = request.getfixturevalue("minilm") if name == "minilm" else HashingEmbedder()
    texts = ["short", "a much longer text about attention in transformers " * 5, "grokking", "x " * 400]
    together = embedder.embed(texts)
    one_by_one = np.vstack([embedder.embed([t]) for t in texts])
    assert together.shape[0] == 4
    assert np.allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-4)
    assert np.allclose(together, one_by_one, atol=1e-3)  # length bucketing must not reorder rows


def test_minilm_puts_paraphrases_closer_than_unrelated_text(minilm: LocalMiniLM) -> None:
    a, b, c = minilm.embed(
        ["How do transformers handle longer inputs?", "length generalization of transformers", "sourdough bread recipe"]
    )
    assert a @ b > 0.5 > a @ c


def test_a_tampered_model_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "model.onnx"
    fake.write_bytes(b"not the model")
    monkeypatch.setattr(local, "model_file", lambda: fake)
    with pytest.raises(PaperbotError, match="does not match"):
        LocalMiniLM()


def test_length_buckets_cover_every_text_once_and_limit_padding() -> None:
    lengths = [30, 200, 31, 45, 29, 120, 33, 34]
    batches = local.length_buckets(lengths, batch_size=3)
    assert sorted(i for batch in batches for i in batch) == list(range(len(lengths)))
    for batch in batches:
        widths = [lengths[i] for i in batch]
        assert len(batch) <= 3 and max(widths) <= 1.5 * min(widths)


def test_mixed_lengths_embed_as_they_do_alone(minilm: LocalMiniLM) -> None:
    texts = ["Short.", "A much longer sentence about transformers " * 12, "Medium length text on retrieval."]
    together = minilm.embed(texts)
    alone = np.vstack([minilm.embed([text]) for text in texts])
    assert np.allclose(together, alone, atol=1e-4)


def test_concurrent_calls_embed_as_one_call_does(minilm: LocalMiniLM) -> None:
    texts = [f"topic {n}: attention over long inputs in transformers " * (1 + n % 5) for n in range(12)]
    with ThreadPoolExecutor(4) as pool:
        rows = list(pool.map(lambda text: minilm.embed([text])[0], texts))
    assert np.allclose(np.vstack(rows), minilm.embed(texts), atol=1e-4)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RSS from /proc")
def test_activation_memory_is_given_back_after_big_batches() -> None:
    """The bot answers for weeks: one burst of large batches must not stay in its RSS."""
    embedder = LocalMiniLM(batch_size=32)
    embedder.embed(["warm up"])
    idle = status_mb()
    long_texts = [f"{n} retrieval augmented generation with long abstracts " * 40 for n in range(32)]
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda _: embedder.embed(long_texts), range(4)))
    # Kept by the arena's first region and malloc: ~80 MB; without shrinking and trimming
    # (four runs side by side, each 32 x 256 tokens) onnxruntime kept ~2 GB here.
    assert status_mb() - idle < 200
