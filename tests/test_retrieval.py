"""Fusion, aggregation, diversity and the gate on hand-made rankings: no store, no model."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.models import Paper, ScoredPaper
from assistant.retrieval import SUPPORT_WEIGHT, aggregate, diversify, gate_score, is_topical, rrf, topic_of


def test_rrf_adds_reciprocal_ranks_across_lists() -> None:
    fused = rrf({"dense": ["a", "b", "c"], "bm25": ["c", "a"]}, {}, constant=10)
    assert fused["a"] == pytest.approx(1 / 11 + 1 / 12)
    assert fused["b"] == pytest.approx(1 / 12)
    assert fused["c"] == pytest.approx(1 / 13 + 1 / 11)
    # Found by both rankers beats ranked high by one.
    assert sorted(fused, key=fused.__getitem__, reverse=True) == ["a", "c", "b"]


def test_rrf_weights_scale_one_list() -> None:
    fused = rrf({"title": ["x", "y"]}, {"title": 0.5}, constant=1)
    assert fused == {"x": pytest.approx(0.25), "y": pytest.approx(0.5 / 3)}


def test_rrf_constant_flattens_rank_differences() -> None:
    steep = rrf({"d": ["a", "b"]}, {}, constant=1)
    flat = rrf({"d": ["a", "b"]}, {}, constant=100)
    assert steep["a"] / steep["b"] > flat["a"] / flat["b"]


def test_aggregate_lists_each_paper_once_with_support_from_its_other_chunks() -> None:
    scores = {"p1#0": 0.5, "p1#1": 0.4, "p1#2": 0.1, "p2#0": 0.55}
    paper_of = {cid: cid.split("#")[0] for cid in scores}
    papers = aggregate(scores, paper_of)
    assert set(papers) == {"p1", "p2"}
    assert papers["p1"][0] == pytest.approx(0.5 + SUPPORT_WEIGHT * (0.4 + 0.1))
    assert papers["p1"][1] == ["p1#0", "p1#1", "p1#2"]
    assert papers["p2"] == (pytest.approx(0.55), ["p2#0"])


def test_support_never_outweighs_a_clearly_better_single_chunk() -> None:
    scores = {"long#0": 0.30, "long#1": 0.29, "long#2": 0.28, "short#0": 0.50}
    papers = aggregate(scores, {cid: cid.split("#")[0] for cid in scores})
    assert papers["short"][0] > papers["long"][0]


def unit(*values: float) -> np.ndarray:
    vector = np.asarray(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


def test_diversify_lets_a_distinct_paper_past_a_near_duplicate() -> None:
    order = ["a", "a-copy", "b"]
    scores = {"a": 1.0, "a-copy": 0.98, "b": 0.9}
    vectors = {"a": unit(1, 0, 0), "a-copy": unit(1, 0.02, 0), "b": unit(0, 1, 0)}
    assert diversify(order, scores, vectors, k=2, penalty=0.15) == ["a", "b"]
    assert diversify(order, scores, vectors, k=3, penalty=0.15) == ["a", "b", "a-copy"]


def test_diversify_off_keeps_relevance_order() -> None:
    order = ["a", "a-copy", "b"]
    vectors = {"a": unit(1, 0), "a-copy": unit(1, 0), "b": unit(0, 1)}
    assert diversify(order, {"a": 1, "a-copy": 0.98, "b": 0.9}, vectors, k=2, penalty=0) == ["a", "a-copy"]


def test_diversify_does_not_bury_a_much_better_paper() -> None:
    order = ["a", "a-close", "far"]
    scores = {"a": 1.0, "a-close": 0.95, "far": 0.3}
    vectors = {"a": unit(1, 0), "a-close": unit(0.8, 0.6), "far": unit(0, 1)}
    assert diversify(order, scores, vectors, k=2, penalty=0.15) == ["a", "a-close"]


@pytest.mark.parametrize(
    ("question", "topical"),
    [
        ("Which papers study length generalization in transformers?", True),
        ("What work exists on instruction tuning?", True),
        ("studies of grokking", True),
        ("Does fine-tuning on random labels make a model forget?", False),
        ("How does it work?", False),
    ],
)
def test_topical_questions_are_recognised(question: str, topical: bool) -> None:
    assert is_topical(question) is topical


def test_gate_reads_the_best_similarity() -> None:
    paper = Paper(id="p", title="T", abstract="A.")
    papers = [ScoredPaper(paper, 0.1, 0.30), ScoredPaper(paper, 0.05, 0.62)]
    assert gate_score(papers) == pytest.approx(0.62)
    assert gate_score(papers[:1]) == pytest.approx(0.30)
    assert gate_score([]) < 0


@pytest.mark.parametrize(
    ("question", "topic"),
    [
        ("Which papers study length generalization in transformers?", "length generalization in transformers?"),
        ("What work exists on instruction tuning?", "instruction tuning?"),
        ("papers about grokking", "grokking"),
        ("Which papers?", "Which papers?"),  # nothing would be left: keep the question
    ],
)
def test_topical_boilerplate_is_stripped_to_the_subject(question: str, topic: str) -> None:
    assert topic_of(question) == topic


@pytest.mark.parametrize(
    ("request_", "topic"),
    [
        ("Summarize work on diffusion models for protein design.", "diffusion models for protein design"),
        ("Summarize the research that applies contrastive learning, and what it is used for.", "contrastive learning"),
        ("Give me an overview of papers about sparse attention", "sparse attention"),
        ("How do papers keep a model calibrated under shift?", "keep a model calibrated under shift?"),
        ("What explanations have been proposed for double descent?", "explanations for double descent?"),
        ("Which papers develop or evaluate methods for data pruning?", "methods for data pruning?"),
        ("How do LLMs use pretraining documents?", "How do LLMs use pretraining documents?"),  # a question about LLMs
        ("Summarize work on it", "Summarize work on it"),  # nothing would be left
    ],
)
def test_a_request_for_a_summary_is_stripped_to_its_subject(request_: str, topic: str) -> None:
    assert topic_of(request_) == topic
