"""Themes for a summary: papers grouped by their embeddings, each group named by its own words.

Average-linkage agglomerative clustering over cosine similarity, in numpy: a summary groups
tens of papers, where this is instant and needs no scikit-learn.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from collections.abc import Sequence

import numpy as np

from assistant.lexical import STOPWORDS

# Merging stops when the closest two groups are less similar than this (mean cosine).
MERGE_SIMILARITY = 0.45
WORD = re.compile(r"[A-Za-z][A-Za-z0-9-]+")
# Words every abstract uses; they name no theme.
GENERIC = frozenset(
    re.findall(
        r"\S+",
        "paper papers study studies approach approaches method methods result results model models propose "
        "proposed show shows new novel based using via towards toward large language llm llms task tasks data "
        "can could may might work works performance across advancement advances improving improve improved "
        "better learning learn learns learned analysis understanding evaluating evaluation benchmark case "
        "beyond without within simple effective efficient scalable general revisiting rethinking "
        "what which how why when where who whose from during into onto upon over under between among through "
        "about against after before since until while both either each every all any some such same other "
        "another more most less very also only even just than then there here these those this that its not",
    )
)


def theme_count(papers: int) -> int:
    """About sqrt(n/2) themes: 2 for 8 papers, 3 for 18, never more than 6."""
    return max(1, min(6, round(math.sqrt(papers / 2))))


def cluster(vectors: np.ndarray, groups: int, min_similarity: float = MERGE_SIMILARITY) -> list[list[int]]:
    """Row indices grouped; merges the two closest groups until `groups` remain or nothing is
    close enough. Groups come back largest first, members in their original order."""
    clusters: list[list[int]] = [[i] for i in range(len(vectors))]
    similarity = vectors @ vectors.T
    while len(clusters) > groups:
        best, pair = -2.0, (0, 1)
        for a in range(len(clusters)):
            for b in range(a + 1, len(clusters)):
                mean = float(similarity[np.ix_(clusters[a], clusters[b])].mean())
                if mean > best:
                    best, pair = mean, (a, b)
        if best < min_similarity:
            break
        a, b = pair
        clusters[a] = sorted(clusters[a] + clusters[b])
        del clusters[b]
    return sorted(clusters, key=lambda members: (-len(members), members[0]))


def theme_name(titles: Sequence[str], other_titles: Sequence[str], topic: str = "", phrases: int = 2) -> str:
    """The phrases (one or two words from the titles) most typical of this group and least
    of the others; the topic's own words name nothing, every group shares them. Written in
    sentence case with acronyms kept ("Small LMs and I2D2"), as a researcher writes a heading."""
    skip = {w.lower() for w in WORD.findall(topic)}
    inside, outside = _phrase_counts(titles, skip), _phrase_counts(other_titles, skip)

    def score(phrase: str) -> float:
        share_out = outside[phrase] / len(other_titles) if other_titles else 0.0
        return inside[phrase] / len(titles) - share_out + 0.05 * phrase.count(" ")

    shared = [p for p in inside if inside[p] >= 2]  # in a group of several, prefer what they share
    chosen: list[str] = []
    for phrase in sorted(shared or inside, key=lambda p: (-score(p), p)):
        if not any(_words(phrase) & _words(c) for c in chosen):
            chosen.append(phrase)
        if len(chosen) == phrases:
            break
    if not chosen:
        return "Other work"
    name = " and ".join(_display(chosen, titles))
    return name[0].upper() + name[1:]


def _words(phrase: str) -> set[str]:
    """'causality-guided framework' and 'causality guided' share words."""
    return set(phrase.replace("-", " ").split())


def _display(phrases: list[str], titles: Sequence[str]) -> list[str]:
    """Each word as the titles spell it when that spelling is an acronym or holds a digit
    (LLMs, ReLU, I2D2, GPT-4); lower case otherwise, "Cross-Platform" included."""
    spelling = {w.lower(): w for title in titles for w in WORD.findall(title) if _is_acronym(w)}
    return [" ".join(spelling.get(word, word) for word in phrase.split()) for phrase in phrases]


def _is_acronym(word: str) -> bool:
    capitals = sum(c.isupper() for c in word)
    return any(c.isdigit() for c in word) or capitals > word.count("-") + 1


def _phrase_counts(titles: Sequence[str], skip: set[str]) -> Counter[str]:
    """In how many titles each word and each pair of adjacent content words appears."""
    counts: Counter[str] = Counter()
    for title in titles:
        words = [w.lower() for w in WORD.findall(title)]
        content = [w if w not in STOPWORDS and w not in GENERIC and w not in skip else "" for w in words]
        found = {w for w in content if w}
        found |= {f"{a} {b}" for a, b in itertools.pairwise(content) if a and b}
        counts.update(found)
    return counts
