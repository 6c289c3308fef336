"""Retrieval and extractive answers on the bundled sample library, with the real model."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from assistant.answering import ExtractiveAnswerer, shortlist
from assistant.engine import Engine
from assistant.errors import PaperbotError
from assistant.lexical import terms

CITATION = re.compile(r"\[(\d+)\]")

# Written for these tests from the sample's abstracts (not the dev questions).
SEARCHES = [
    ("Why do over-parameterized networks trained with gradient descent generalize?", "On the Generalization Mystery"),
    ("a benchmark of math word problems with long narratives", "Can LLMs Solve longer Math Word Problems Better?"),
    ("hate speech detection that transfers across social media platforms", "Hate Speech Detection"),
    ("does grokking happen when pretraining large language models", "Where to find Grokking in LLM Pretraining?"),
]


@pytest.mark.parametrize(("query", "title_part"), SEARCHES)
def test_search_finds_the_paper_in_the_top_5(sample_engine: Engine, query: str, title_part: str) -> None:
    titles = [r.paper.title for r in sample_engine.search(query, k=5)]
    assert any(title_part in title for title in titles), titles


def test_answer_quotes_cited_papers_and_numbers_them_in_order(sample_engine: Engine) -> None:
    answer = sample_engine.ask("Which papers study length generalization in transformers?")
    assert not answer.refused and answer.engine == "extractive"
    markers = [int(n) for n in CITATION.findall(answer.text)]
    assert sorted(set(markers)) == [c.n for c in answer.citations] == list(range(1, len(answer.citations) + 1))
    assert markers == sorted(markers)  # [1] comes before [2]
    retrieved = {s.paper.id for s in answer.sources}
    by_number = {c.n: c.paper for c in answer.citations}
    for sentence, n in re.findall(r"(.+?) \[(\d+)\]\s*", answer.text):
        paper = by_number[int(n)]
        assert paper.id in retrieved
        assert sentence.strip() in paper.abstract  # quoted, never invented
    assert sum("ength" in c.paper.title for c in answer.citations) >= 2


@pytest.mark.parametrize(
    "question", ["How do I bake sourdough bread?", "Who won the 1998 football world cup final?", "best pizza in Naples"]
)
def test_out_of_library_questions_are_refused(sample_engine: Engine, question: str) -> None:
    answer = sample_engine.ask(question)
    assert answer.refused and not answer.citations
    assert answer.text.startswith("Not found")


def test_gate_separates_the_calibration_set(sample_engine: Engine, data: Path) -> None:
    rows = [json.loads(line) for line in (data / "gate_calibration.jsonl").read_text().splitlines()]
    wrong = [r["question"] for r in rows if sample_engine.ask(r["question"]).refused == r["in_library"]]
    assert wrong == []


def test_empty_and_huge_questions_are_rejected(sample_engine: Engine) -> None:
    with pytest.raises(PaperbotError, match="empty"):
        sample_engine.ask("   \n ")
    with pytest.raises(PaperbotError, match="limit is 2000"):
        sample_engine.ask("why " * 1000)


def test_shortlist_keeps_the_first_sentence_and_those_sharing_most_question_words() -> None:
    sentences = [
        "We introduce Lumen.",
        "Prior work studies images.",
        "Lumen improves length generalization of transformers.",
        "Experiments use three datasets.",
        "Length generalization fails on long inputs.",
    ]
    asked = set(terms("How does length generalization in transformers work?"))
    assert [pos for pos, _ in shortlist(sentences, asked, 3)] == [0, 2, 4]
    assert [pos for pos, _ in shortlist(sentences, asked, 2)] == [0, 2]
    assert len(shortlist(sentences, asked, 0)) == len(sentences)  # 0: every sentence is scored


def test_scoring_every_sentence_still_cites_the_right_paper(sample_engine: Engine) -> None:
    thorough = sample_engine.settings.answer.model_copy(update={"shortlist": 0})
    answerer = ExtractiveAnswerer(sample_engine.embedder, thorough, sample_engine.settings.retrieval.min_score)
    question = "How do positional encodings affect length generalization?"
    answer = answerer.answer(question, sample_engine.search(question))
    assert not answer.refused and "[1]" in answer.text
