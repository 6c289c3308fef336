"""Sentence checks with the real embedding model: the support threshold, citation repair
(added, moved, flagged), loops, and sentence splitting of a stream."""

from __future__ import annotations

import pytest

from assistant.checking import SUPPORT_THRESHOLD, Evidence, SentenceChecker, SentenceSplitter
from assistant.embeddings import Embedder, build_embedder
from assistant.settings import Settings

SOURCES = {
    1: "Grokking in Small Networks\nNeural networks sometimes generalize long after they have overfit their "
    "training data, a phenomenon called grokking. Weight decay makes it happen sooner.",
    2: "Kelp Forest Dynamics\nSea urchins graze kelp forests at night. Sea otters keep urchin numbers in check.",
    3: "Retrieval for Long Documents\nWe index long documents in chunks and retrieve them with a hybrid of "
    "dense vectors and BM25, improving recall on legal questions.",
}
PARAPHRASES = {
    1: "Networks can start to generalize well after overfitting the training set.",
    2: "Otters control the urchins that eat kelp.",
    3: "Combining BM25 with dense retrieval over chunks raises recall for legal documents.",
}
UNRELATED = [
    "The stock market fell sharply in 2008 because of mortgage defaults.",
    "Bread dough rises faster in a warm kitchen.",
    "Transformers are a popular architecture.",  # on the library's broad topic, backed by no source
]


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return build_embedder(Settings())


@pytest.fixture
def checker(embedder: Embedder) -> SentenceChecker:
    return SentenceChecker(Evidence(embedder, SOURCES))


def test_the_threshold_separates_support_from_other_sources(embedder: Embedder) -> None:
    evidence = Evidence(embedder, SOURCES)
    for n, claim in PARAPHRASES.items():
        scores = evidence.support(claim)
        assert scores[n] >= SUPPORT_THRESHOLD, (claim, scores)
        assert all(score < SUPPORT_THRESHOLD for m, score in scores.items() if m != n), (claim, scores)
    for claim in UNRELATED:
        assert max(evidence.support(claim).values()) < SUPPORT_THRESHOLD, claim


def test_an_uncited_sentence_gets_the_source_that_backs_it(checker: SentenceChecker) -> None:
    checked = checker.check(PARAPHRASES[3])
    assert checked is not None and checked.text.endswith("legal documents [1].") and not checked.flagged
    assert checker.order == [3]


def test_a_wrong_citation_moves_to_the_backing_source(checker: SentenceChecker) -> None:
    checked = checker.check(PARAPHRASES[2].removesuffix(".") + " [1].")
    assert checked is not None and not checked.flagged and checker.order == [2]


def test_a_sentence_no_source_backs_is_flagged(checker: SentenceChecker) -> None:
    for claim in (UNRELATED[0], UNRELATED[1] + " [2]"):
        checked = checker.check(claim)
        assert checked is not None and checked.flagged
    assert checker.order == [2]  # a flagged sentence keeps its own (listed) citation, marked unsupported


@pytest.mark.parametrize(
    "invented",
    [
        "[https://www.researchgate.net/posts/3489888_The_Science_Of_Grokking]",
        "[www.otters.org]",
        "[Smith et al., 2020]",
    ],
)
def test_a_reference_the_model_invents_is_not_shown(checker: SentenceChecker, invented: str) -> None:
    checked = checker.check(f"Otters control the urchins that eat kelp {invented} [2].")
    assert checked is not None and not checked.flagged
    assert checked.text == "Otters control the urchins that eat kelp [1]."


def test_a_repeated_sentence_is_a_loop(checker: SentenceChecker) -> None:
    assert checker.check("Sea otters keep urchin numbers in check [2].") is not None
    assert checker.check("Sea otters keep the urchin numbers in check [2].") is None
    assert checker.looping


def test_sentences_come_out_once_finished() -> None:
    splitter = SentenceSplitter()
    assert splitter.feed("Grokking is late [1]. Weight") == ["Grokking is late [1]."]
    assert splitter.feed(" decay helps [1].\n- Otters") == ["Weight decay helps [1]."]
    assert splitter.feed(" eat urchins [2].") == []
    assert splitter.finish() == ["- Otters eat urchins [2]."]
    splitter.feed("and the answer is " * 60)
    assert splitter.running_on
