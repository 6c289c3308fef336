"""Checking a generated answer sentence by sentence, as it streams.

Small models (135M-1.5B) leave sentences uncited, cite the wrong source, loop and ramble.
Each finished sentence is checked before anyone sees it:

- citations are parsed by `CitationRewriter` (model numbering; what names no listed source
  is gone already);
- the sentence is compared, with the same embedder as retrieval, with every sentence of
  every source: a citation whose source does not back it moves to the source that does,
  an uncited sentence gets the source that backs it, and a sentence no source backs is
  flagged (kept, listed as unsupported);
- a sentence said before, or one running on without end, is a loop: generation stops.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from assistant.citations import CITATION, supports, tidy
from assistant.embeddings import Embedder
from assistant.lexical import terms
from assistant.text import split_sentences

# Cosine (all-MiniLM-L6-v2) between a generated sentence and a source sentence above which
# the source backs it: paraphrases of an abstract's sentence score ~0.6-0.9, sentences about
# another paper on a nearby topic ~0.2-0.45 (tests/test_checking.py measures both sides).
SUPPORT_THRESHOLD = 0.5
MAX_SENTENCE_CHARS = 700  # a "sentence" longer than this is a run-on loop
MAX_SENTENCES = 6  # the prompt asks for 2 to 5
# "Source [1]", "in source [2]": the marker alone says it; the word left behind would dangle.
SOURCE_WORD = re.compile(r"\b(?:[Ss]ources?|[Pp]apers?|[Rr]eferences?|[Aa]bstracts?)\s*((?:\[\d+\])+)")
REPEAT_OVERLAP = 0.8  # share of content words two sentences have in common to be "the same"
LIST_MARKER = re.compile(r"^\s*(?:[-*+•]|\d+[.)])\s+")
# A reference the model made up in citation style: "[https://...]", "[www.x.org]", "[Smith et
# al., 2020]", "[Source: ...]". Only numbered sources exist; these would read as citations.
INVENTED_REFERENCE = re.compile(
    r"[ \t]*\[\s*(?:https?://|www\.|[^\]\n]{0,80}\bet al\b|sources?\s*:|references?\s*:)[^\]\n]{0,300}\]",
    re.IGNORECASE,
)


@dataclass
class Checked:
    text: str  # with final numbering
    flagged: bool


@dataclass
class Evidence:
    """Every sentence of every source, embedded once per answer, at the first check: by then
    the request is out, so the embedding overlaps the model reading its prompt."""

    embedder: Embedder
    texts: dict[int, str]  # model number -> title and text
    owners: list[int] = field(default_factory=list)
    vectors: np.ndarray | None = None

    def _embedded(self) -> np.ndarray:
        if self.vectors is None:
            pieces = [(n, s) for n, text in self.texts.items() for s in split_sentences(text.replace("\n", ". "))]
            self.owners = [n for n, _ in pieces]
            self.vectors = self.embedder.embed([s for _, s in pieces]) if pieces else np.zeros((0, 1), np.float32)
        return self.vectors

    def support(self, claim: str) -> dict[int, float]:
        """The best cosine of `claim` with each source's sentences."""
        vectors = self._embedded()
        if not self.owners:
            return {}
        similarity = vectors @ self.embedder.embed([claim])[0]
        best: dict[int, float] = {}
        for owner, score in zip(self.owners, similarity.tolist(), strict=True):
            best[owner] = max(best.get(owner, -1.0), score)
        return best


def claim_of(sentence: str) -> str:
    return tidy(CITATION.sub(" ", INVENTED_REFERENCE.sub("", sentence)))


def cite_at_end(claim: str, numbers: Sequence[int]) -> str:
    """One claim per sentence: its citations go before the final punctuation."""
    markers = "".join(f"[{n}]" for n in numbers)
    if not markers:
        return claim
    if claim[-1:] in ".!?":
        return f"{claim[:-1]} {markers}{claim[-1]}"
    return f"{claim} {markers}."


class SentenceChecker:
    """Model-numbered sentences in, checked and renumbered sentences out."""

    def __init__(self, evidence: Evidence, threshold: float = SUPPORT_THRESHOLD) -> None:
        self.evidence = evidence
        self.threshold = threshold
        self.order: list[int] = []  # model numbers in order of first use
        self.seen: list[set[str]] = []
        self.looping = False

    def check(self, sentence: str) -> Checked | None:
        """None: nothing to show (no content, or a repeat, which also sets `looping`)."""
        sentence = SOURCE_WORD.sub(r"\1", LIST_MARKER.sub("", sentence))
        claim = claim_of(sentence)
        words = {t for t in terms(claim) if not t.isdigit()}
        if not words:
            return None
        if self.repeated(words):
            self.looping = True
            return None
        self.seen.append(words)
        numbers, flagged = self.sources_for(claim, [int(n) for g in CITATION.findall(sentence) for n in g.split(",")])
        return Checked(cite_at_end(claim, self.renumbered(numbers)), flagged)

    def repeated(self, words: set[str]) -> bool:
        return any(len(words & seen) >= REPEAT_OVERLAP * max(len(words), len(seen)) for seen in self.seen)

    def sources_for(self, claim: str, cited: list[int]) -> tuple[list[int], bool]:
        """The sources that back `claim`: its own where they do, else the one that does best."""
        scores = self.evidence.support(claim)
        backing = [n for n in dict.fromkeys(cited) if self.backs(n, claim, scores)]
        if backing:
            return backing, False
        best = max(scores, key=lambda n: scores[n], default=None)
        if best is not None and scores[best] >= self.threshold:
            return [best], False
        return list(dict.fromkeys(cited)), True

    def backs(self, number: int, claim: str, scores: dict[int, float]) -> bool:
        if scores.get(number, -1.0) >= self.threshold:
            return True
        return number in self.evidence.texts and supports(claim, [self.evidence.texts[number]])

    def renumbered(self, numbers: list[int]) -> list[int]:
        for number in numbers:
            if number not in self.order:
                self.order.append(number)
        return [self.order.index(n) + 1 for n in numbers]


class SentenceSplitter:
    """Text in as it streams; finished sentences out (a sentence is finished once the next begins)."""

    def __init__(self) -> None:
        self.buffer = ""

    def feed(self, text: str) -> list[str]:
        self.buffer += text
        lines = self.buffer.split("\n")
        done = [s for line in lines[:-1] for s in split_sentences(line)]
        tail = split_sentences(lines[-1])
        self.buffer = tail[-1] if tail else ""
        return done + tail[:-1]

    def finish(self) -> list[str]:
        rest, self.buffer = self.buffer, ""
        return split_sentences(rest)

    @property
    def running_on(self) -> bool:
        return len(self.buffer) > MAX_SENTENCE_CHARS
