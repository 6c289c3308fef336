"""Sentence-aware chunks sized in the embedding model's own tokens.

all-MiniLM-L6-v2 was trained on 128-token inputs, so a chunk (title included, since the
title is embedded with every chunk) defaults to 128 tokens. llama-index's SentenceSplitter
does the sentence-aware packing; we give it the model's tokenizer instead of tiktoken.
"""

from __future__ import annotations

from functools import lru_cache

from llama_index.core.node_parser import SentenceSplitter

from assistant.embeddings.tokenizer import count_tokens
from assistant.models import Chunk, Paper

# A title never takes more than this share of a chunk, so long titles cannot crowd out text.
MAX_TITLE_SHARE = 0.5


@lru_cache(maxsize=8)
def splitter(size: int, overlap: int) -> SentenceSplitter:
    return SentenceSplitter(chunk_size=size, chunk_overlap=min(overlap, size // 2), tokenizer=count_tokens)


def chunk_paper(paper: Paper, size: int, overlap: int) -> list[Chunk]:
    title_tokens = min(len(count_tokens(paper.title)) + 1, int(size * MAX_TITLE_SHARE))
    body_size = size - title_tokens
    texts = splitter(body_size, overlap).split_text(paper.abstract) or [paper.abstract]
    return [Chunk(paper_id=paper.id, index=i, title=paper.title, text=text) for i, text in enumerate(texts)]
