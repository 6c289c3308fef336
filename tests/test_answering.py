"""Retrieval and extractive answers on the bundled sample library, with the real model."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from assistant.answering import ExtractiveAnswerer, shortlist
from assistant.conversation import follow_up
from assistant.engine import Engine
from assistant.errors import PaperbotError
from assistant.lexical import terms
from assistant.models import Answer
from assistant.sentence_roles import role_bonus

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
    for line in answer.text.splitlines()[1:]:  # after "N papers in the library address this:"
        title = by_number[int(CITATION.findall(line)[-1])].title
        for sentence, n, end in re.findall(r"(.+?) \[(\d+)\]([.!?]?)\s*", line.removeprefix(f"- {title}: ")):
            paper = by_number[int(n)]
            assert paper.id in retrieved
            assert sentence.strip() + end in paper.abstract  # quoted, never invented
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


def test_shortlist_keeps_sentences_sharing_most_question_words_contributions_first() -> None:
    sentences = [
        "We introduce Lumen.",
        "Prior work studies images.",
        "Lumen improves length generalization of transformers.",
        "Experiments use three datasets.",
        "Length generalization fails on long inputs.",
    ]
    asked = set(terms("How does length generalization in transformers work?"))
    assert [pos for pos, _ in shortlist(sentences, asked, 3)] == [0, 2, 4]  # "We introduce" beats a tie at 0
    assert [pos for pos, _ in shortlist(sentences, asked, 2)] == [2, 4]
    assert len(shortlist(sentences, asked, 0)) == len(sentences)  # 0: every sentence is scored


def test_scoring_every_sentence_still_cites_the_right_paper(sample_engine: Engine) -> None:
    thorough = sample_engine.settings.answer.model_copy(update={"shortlist": 0})
    answerer = ExtractiveAnswerer(sample_engine.embedder, thorough, sample_engine.settings.retrieval.min_score)
    question = "How do positional encodings affect length generalization?"
    answer = answerer.answer(question, sample_engine.search(question))
    assert not answer.refused and "[1]" in answer.text


def test_contributions_and_results_outrank_background() -> None:
    background = "Large language models are known to hallucinate facts."
    motivation = "However, detecting hallucinations remains a challenge."
    prior = "Existing detection methods rely on external knowledge."
    contribution = "We propose a probe on hidden states that detects hallucinations."
    result = "The probe reduces hallucinated answers by 31% on TruthfulQA."
    assert role_bonus(background) < 0 and role_bonus(motivation) < 0 and role_bonus(prior) < 0
    assert role_bonus(result) > role_bonus(contribution) > 0
    assert role_bonus("Although LLMs hallucinate, we show a fix.") > 0  # a contribution set against background
    assert role_bonus("The dataset has three splits.") == 0


def test_a_which_papers_question_gets_one_line_per_on_topic_paper(sample_engine: Engine) -> None:
    answer = sample_engine.ask("Which papers study grokking?")
    lines = answer.text.splitlines()
    assert lines[0].endswith("address this:")
    items = lines[1:]
    assert len(items) == len(answer.citations) >= 2
    for n, (line, citation) in enumerate(zip(items, answer.citations, strict=True), start=1):
        assert line.startswith(f"- {citation.paper.title}: ") and line.endswith((f"[{n}].", f"[{n}]"))
        quoted = line.removeprefix(f"- {citation.paper.title}: ").rsplit(" [", 1)[0]
        assert quoted in citation.paper.abstract  # quoted, never invented
    assert all("rokk" in c.paper.title for c in answer.citations)


def test_a_question_about_one_paper_cites_it_first_and_few_others(sample_engine: Engine) -> None:
    answer = sample_engine.ask("What accuracy do MLPs reach when detecting hallucinations from internal states in RAG?")
    assert answer.citations[0].paper.title.startswith("The HalluRAG Dataset")
    assert len(answer.citations) <= 2
    assert answer.text.index("[1]") < answer.text.index("[2]") if "[2]" in answer.text else True


def test_an_offline_follow_up_retrieves_with_context_and_quotes_new_sentences(sample_engine: Engine) -> None:
    first = sample_engine.ask("What does the HalluRAG dataset contain?")
    follow = sample_engine.ask("How accurate are the classifiers trained on it?", history=[first])
    assert follow.standalone is not None and "HalluRAG" in follow.standalone
    assert follow.citations[0].paper.title == first.citations[0].paper.title
    before = {s.rsplit(" [", 1)[0] for s in re.split(r"(?<=\.) ", first.text)}
    after = {s.rsplit(" [", 1)[0] for s in re.split(r"(?<=\.) ", follow.text)}
    assert follow.text != first.text and after - before


def test_offline_follow_ups_keep_the_subject_only_when_they_lean_on_it() -> None:
    before = Answer("What is grokking?", "Grokking is delayed generalization [1].", False, "extractive")
    assert follow_up("and what about transformers?", before) == "What is grokking? and what about transformers?"
    assert follow_up("results?", before) == "What is grokking? results?"
    assert follow_up("which of them use MLPs?", before).startswith("What is grokking?")
    assert follow_up("How do diffusion models generate images?", before) == "How do diffusion models generate images?"
