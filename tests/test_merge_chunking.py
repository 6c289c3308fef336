from __future__ import annotations

from datetime import date

from assistant.chunking import chunk_paper
from assistant.embeddings.tokenizer import count_tokens
from assistant.merge import merge_papers
from assistant.models import Paper
from assistant.sources.common import make_paper
from assistant.text import split_sentences


def test_copies_merge_and_the_richest_metadata_wins() -> None:
    bare = make_paper(title="Deep Nets: A Study", abstract="Short.", source="daily-papers")
    rich = make_paper(
        title="Deep nets - a study",
        abstract="A longer abstract that says more.",
        source="arxiv-oai",
        raw_id="2301.01234v3",
        authors=("A. B.",),
        published=date(2023, 1, 5),
        categories=("cs.LG",),
    )
    other = make_paper(title="Something Else", abstract="Else.", source="csv")
    merged = merge_papers([bare, other, rich])
    assert [p.title for p in merged] == ["Deep Nets: A Study", "Something Else"]
    paper = merged[0]
    assert paper.id == "2301.01234"  # the arXiv id beats the title hash
    assert paper.abstract == "A longer abstract that says more."
    assert paper.authors == ("A. B.",) and paper.date == date(2023, 1, 5)
    assert paper.sources == ("daily-papers", "arxiv-oai")


def test_title_hash_ids_are_stable_and_ignore_case_and_punctuation() -> None:
    one = make_paper(title="Grokking,  Explained!", abstract="x", source="csv")
    two = make_paper(title="grokking explained", abstract="y", source="jsonl")
    assert one.id == two.id and one.id.startswith("t-")


LONG = " ".join(
    f"Sentence number {i} explains one more finding about sparse attention in long documents." for i in range(40)
)


def test_chunks_fit_the_model_and_end_on_sentences() -> None:
    paper = Paper(id="p1", title="Sparse Attention for Long Documents", abstract=LONG)
    chunks = chunk_paper(paper, size=128, overlap=24)
    assert len(chunks) > 3
    for chunk in chunks:
        assert chunk.paper_id == "p1" and chunk.title == paper.title
        assert len(count_tokens(chunk.embed_text)) <= 128
        assert chunk.text.endswith(".")
    assert [c.index for c in chunks] == list(range(len(chunks)))
    assert len({c.id for c in chunks}) == len(chunks)


def test_a_long_title_cannot_crowd_out_the_text() -> None:
    paper = Paper(id="p2", title="word " * 200, abstract=LONG)
    chunks = chunk_paper(paper, size=128, overlap=0)
    assert all(len(count_tokens(c.text)) >= 20 for c in chunks[:-1])


def test_sentence_split_keeps_abbreviations_whole() -> None:
    text = "We follow Smith et al. (2020) closely. Results, e.g. F1, improve. A 3.5 point gain! Why? Because."
    assert split_sentences(text) == [
        "We follow Smith et al. (2020) closely.",
        "Results, e.g. F1, improve.",
        "A 3.5 point gain!",
        "Why?",
        "Because.",
    ]
