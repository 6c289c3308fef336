"""Eval metrics on tiny cases worked out by hand, the questions file, and the shipped
defaults measured on questions we wrote for the sample library (not the dev questions)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from assistant.answer_metrics import answer_figures, facts_of
from assistant.engine import Engine
from assistant.errors import PaperbotError
from assistant.evaluation import (
    EvalQuestion,
    evaluate,
    load_eval_file,
    load_questions,
    ndcg_at,
    recall_at,
    reciprocal_rank,
)
from assistant.models import Answer, Citation, Paper
from assistant.settings import Settings
from assistant.summary import Summary, Theme
from assistant.topic_eval import evaluate_topics
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


def answer(question: str, cited: list[str], refused: bool = False, text: str = "") -> Answer:
    """An answer citing papers by title, [1] [2]... in order, as the answerers write them."""
    citations = tuple(Citation(n, Paper(f"p{n}", title, "")) for n, title in enumerate(cited, start=1))
    body = text or " ".join(f"Claim {n} [{n}]." for n in range(1, len(cited) + 1))
    return Answer(question, body, refused, "extractive", citations)


def test_report_aggregates_and_lists_misses() -> None:
    questions = [
        EvalQuestion("q1", ("A", "B", "Z")),
        EvalQuestion("q2", ("C",)),
        EvalQuestion("nothing here", ()),
    ]
    rankings = {"q1": RANKED, "q2": ["C"], "nothing here": ["X"]}
    answers = {
        "q1": answer("q1", ["A", "X"]),
        "q2": answer("q2", [], refused=True),
        "nothing here": answer("n", [], True),
    }
    report = evaluate(questions, rankings.__getitem__, answers.__getitem__, {"a", "b", "c", "x"}, "hybrid")
    data = report.to_dict()
    assert data["questions"] == 3 and data["answerable"] == 2
    assert data["recall@10"] == pytest.approx(round((2 / 3 + 1) / 2, 4))
    assert data["mrr"] == 1.0
    assert data["refusal_accuracy"] == pytest.approx(round(2 / 3, 4))  # q2 was wrongly refused
    assert data["missing_from_library"] == ["Z"]
    misses = {m["question"]: m for m in data["misses"]}
    assert set(misses) == {"q1", "q2"}
    assert misses["q1"]["missed"] == ["Z"] and misses["q2"]["refused"] is True
    figures = data["answers"]
    assert figures["cites_relevant"] == 0.5  # q1 cites A; q2 refused
    assert figures["citation_precision"] == 0.5  # A yes, X no
    assert figures["multi_paper_coverage"] == pytest.approx(round(1 / 3, 4))  # q1: A of A, B, Z
    assert figures["refused_answerable"] == 1 and figures["answered_unanswerable"] == 0


def test_answer_figures_count_sentences_citations_and_inventions() -> None:
    text = "3 papers address this:\n- A: it works [1].\n- B: it fails [2]. An aside with no citation. Odd [7]."
    rows = [
        ("q1", ("A", "B"), facts_of(answer("q1", ["A", "B"], text=text), 0.2)),
        ("q2", ("C",), facts_of(answer("q2", ["D", "C", "E"]), 0.4)),
        ("q3", (), facts_of(answer("q3", ["A"]), 1.0)),
    ]
    figures = answer_figures(rows)
    assert figures["sentences"] == 4 + 3 + 1  # the line introducing the list is no claim
    assert figures["uncited_sentences"] == 1 and figures["invented_citations"] == 1  # [7] resolves to nothing
    assert figures["cites_relevant"] == 1.0
    assert figures["citation_precision"] == pytest.approx(round(3 / 5, 4))  # A, B, C of A, B, D, C, E
    assert figures["multi_paper_coverage"] == 1.0 and figures["multi_paper_questions"] == 1
    assert figures["answered_unanswerable"] == 1 and figures["refusal_accuracy"] == pytest.approx(round(2 / 3, 4))
    assert (figures["latency_median_ms"], figures["latency_p90_ms"]) == (400.0, 1000.0)
    assert [m["question"] for m in figures["misses"]] == []


def test_topic_figures_precision_recall_and_themes() -> None:
    def summary(topic: str, titles: list[str], themes: int) -> Summary:
        references = tuple(Citation(n, Paper(f"p{n}", t, "")) for n, t in enumerate(titles, start=1))
        named = tuple(Theme(f"theme {i}", ()) for i in range(themes))
        return Summary(topic, bool(titles), "extractive", named, (), references)

    written = {"t1": summary("t1", ["A", "B", "X", "Y"], 2), "t2": summary("t2", [], 0)}
    topics = [("t1", ("A", "B", "C")), ("t2", ("D",))]
    data = evaluate_topics(topics, written.__getitem__, {"a", "b", "c"}).to_dict()
    assert data["inclusion_precision"] == 0.5  # t2 included nothing: no precision to average
    assert data["inclusion_recall"] == pytest.approx(round((2 / 3 + 0) / 2, 4))
    assert data["themes_per_summary"] == 2.0 and data["max_themes"] == 2 and data["not_written"] == 1
    assert data["missing_from_library"] == ["D"]
    first = data["per_topic"][0]
    assert first["missed"] == ["C"] and first["off_topic"] == ["X", "Y"]


def test_the_file_kind_comes_from_its_keys(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text('{"topic": "grokking", "relevant_titles": ["A"]}\n{"topic": "x"}\n')
    assert load_eval_file(path) == ("topic", [("grokking", ("A",)), ("x", ())])
    with pytest.raises(PaperbotError, match="questions file"):
        load_questions(path)
    path.write_text('{"topic": "grokking"}\n{"question": "mixed"}\n')
    with pytest.raises(PaperbotError, match=r"t\.jsonl:2: needs a \"topic\" string"):
        load_eval_file(path)


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
