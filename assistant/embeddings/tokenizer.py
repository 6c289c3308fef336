"""all-MiniLM-L6-v2's WordPiece tokenizer, shipped as data in this package."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

from tokenizers import Tokenizer

# The model saw at most 128 tokens in training and truncates at 256.
MAX_TOKENS = 256


@lru_cache(maxsize=1)
def minilm_tokenizer() -> Tokenizer:
    data = resources.files("assistant.embeddings").joinpath("minilm-tokenizer.json").read_text("utf-8")
    tokenizer = Tokenizer.from_str(data)
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return tokenizer


def count_tokens(text: str) -> list[int]:
    """Token ids without special tokens: the measure chunk sizes are given in."""
    return minilm_tokenizer().encode(text, add_special_tokens=False).ids
