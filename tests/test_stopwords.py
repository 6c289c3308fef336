"""The stop-word lists copied from bm25s must stay the lists the keyword index was built with."""

import bm25s.stopwords

from assistant.lexical import terms
from assistant.stopwords import STOPWORDS_EN, STOPWORDS_EN_PLUS


def test_copies_match_bm25s() -> None:
    assert frozenset(bm25s.stopwords.STOPWORDS_EN) == STOPWORDS_EN
    assert frozenset(bm25s.stopwords.STOPWORDS_EN_PLUS) == STOPWORDS_EN_PLUS


def test_keyword_terms_drop_stop_words() -> None:
    assert terms("The grokking of these networks") == ["grokk", "network"]
