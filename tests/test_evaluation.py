"""Eval metrics on tiny cases worked out by hand, the questions file, and the shipped
defaults measured on questions we wrote for the sample library (not the dev questions)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from assistant.engine import Engine
from assistant.errors import PaperbotError
from assistant.evaluation import EvalQuestion, evaluate, load_questions, ndcg_at, recall_at, reciprocal_rank
from assistant.settings import Settings
from tests.conftest import DATA

RANKED = ["B", "X", "A", "Y", "C"]
RELEVANT = ["A", "B", "Z"]  # Z is never retrieved


def test_recall_counts_relevant_titles_found_within_k() -> None:
    assert recall_at(RANKED, RELEVANT, 1) == pytest.approx(1 / 3)
    assert recall_at(RANKED, RELEVANT, 3) == pytest.approx(2 / 3)
    assert recall_at(RANKED, RELEVANT, 10) == pytest.approx(2 / 3)
    assert recall_at(RANKED, [], 10) == 0.0


def test_titles_match_after_normalisation_and_count_once() -> None:
    assert recall_at(["attention is all you need!", "Attention Is All You Need"], ["Attention is all you need"], 5) == 1
    assert reciprocal_rank(["other", "ATTENTION is all you need"], ["Attention is all you need"]) == 0.5


def test_reciprocal_rank_is_one_over_the_first_hit() -> None:
    assert reciprocal_rank(RANKED, RELEVANT) == 1.0
    assert reciprocal_rank(RANKED, ["A"]) == pytest.approx(1 / 3)
    assert reciprocal_rank(RANKED, ["Q"]) == 0.0


def test_ndcg_against_the_ideal_ordering() -> None:
    dcg = 1 / math.log2(2) + 1 / math.log2(4)  # hits at ranks 1 and 3
    ideal = 1 / math.log2(2) + 1 / math.log2(3) + 1 / math.log2(4)  # three relevant titles
    assert ndcg_at(RANKED, RELEVANT, 10) == pytest.approx(dcg / ideal)
    assert ndcg_at(["A", "B"], ["A", "B"], 10) == pytest.approx(1.0)


def test_report_aggregates_and_lists_misses() -> None:
    questions = [
        EvalQuestion("q1", ("A", "B", "Z")),
        EvalQuestion("q2", ("C",)),
        EvalQuestion("nothing here", ()),
    ]
    rankings = {"q1": RANKED, "q2": ["C"], "nothing here": ["X"]}
    refusals = {"q1": False, "q2": True, "nothing here": True}
    report = evaluate(questions, rankings.__getitem__, refusals.__getitem__, {"a", "b", "c", "x"}, "hybrid")
    data = report.to_dict()
    assert data["questions"] == 3 and data["answerable"] == 2
    assert data["recall@10"] == pytest.approx(round((2 / 3 + 1) / 2, 4))
    assert data["mrr"] == 1.0
    assert data["refusal_accuracy"] == pytest.approx(round(2 / 3, 4))  # q2 was wrongly refused
    assert data["missing_from_library"] == ["Z"]
    misses = {m["question"]: m for m in data["misses"]}
    assert set(misses) == {"q1", "q2"}
    assert misses["q1"]["missed"] == ["Z"] and misses["q2"]["refused"] is True


def test_questions_file_errors_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text('{"question": "ok", "relevant_titles": []}\n{"question": 3}\n')
    with pytest.raises(PaperbotError, match=r"q\.jsonl:2: needs a \"question\" string"):
        load_questions(path)
    path.write_text('{"question": "ok", "relevant_titles": "A"}\n')
    with pytest.raises(PaperbotError, match="must be a list of strings"):
        load_questions(path)
    path.write_text("not json\n")
    with pytest.raises(PaperbotError, match=r"q\.jsonl:1: not JSON"):
        load_questions(path)
    path.write_text("\n\n")
    with pytest.raises(PaperbotError, match="empty"):
        load_questions(path)


@pytest.fixture(scope="module")
def reports(sample_home: Path) -> dict[str, dict[str, object]]:
    engine = Engine(Settings(home=sample_home))
    questions = load_questions(DATA / "retrieval_eval.jsonl")
    return {mode: engine.evaluate(questions, mode).to_dict() for mode in ("hybrid", "dense", "bm25")}


def test_default_settings_find_the_papers_and_refuse_the_rest(reports: dict[str, dict[str, object]]) -> None:
    hybrid = reports["hybrid"]
    assert Settings().retrieval.mode == "hybrid"
    assert hybrid["recall@10"] >= 0.95, hybrid["misses"]
    assert hybrid["mrr"] >= 0.9, hybrid["misses"]
    assert hybrid["refusal_accuracy"] == 1.0, hybrid["misses"]


def test_hybrid_beats_either_side_alone(reports: dict[str, dict[str, object]]) -> None:
    hybrid = reports["hybrid"]
    for side in ("dense", "bm25"):
        assert hybrid["recall@10"] >= reports[side]["recall@10"], side
        assert hybrid["ndcg@10"] > reports[side]["ndcg@10"], side
