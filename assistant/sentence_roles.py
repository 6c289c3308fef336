"""What a sentence of an abstract does: state the paper's own contribution or finding, or
set the scene (background, motivation).

Abstracts follow a known rhetorical order (background -> gap -> "we propose" -> results),
and the moves are marked by a small set of phrases (Swales' CARS model; Teufel's argumentative
zoning). An answer should quote the contribution and result moves: "We show that X reduces
hallucination by 30%", not "LLMs are known to hallucinate". The role is a bonus or penalty on
top of the sentence's similarity to the question, never a filter on its own.
"""

from __future__ import annotations

import re

# The authors speaking about their own work, or a result being reported.
CONTRIBUTION = re.compile(
    r"\b(?:we|our|this (?:paper|work|study|article)|here,? we|in this (?:paper|work))\b"
    r"|\b(?:results|experiments|findings|evaluations?|analysis|analyses) (?:show|suggest|indicate|reveal|demonstrate)"
    r"|\b(?:outperforms?|achieves?|improves?|reduces?|surpass(?:es)?|yields?|attains?)\b",
    re.IGNORECASE,
)
# Numbers that report a measurement: 12.5%, 3x, +4.1 points, a state-of-the-art claim.
RESULT = re.compile(
    r"\d+(?:\.\d+)?\s*(?:%|x\b|\u00d7|points?\b|pp\b)|state[- ]of[- ]the[- ]art|\bsota\b", re.IGNORECASE
)
# The scene before the contribution: what the field knows or lacks, in general terms.
BACKGROUND = re.compile(
    r"\b(?:are|is|have been|has been) (?:known|widely|increasingly|commonly|often)\b"
    r"|\b(?:in recent years|recently,|recent (?:advances|progress|years|work|studies))\b"
    r"|\b(?:has|have) (?:attracted|gained|received|shown (?:remarkable|impressive|great|strong))\b"
    r"|\b(?:remains?|is still|are still) (?:a |an )?(?:challenge|challenging|unclear|open|difficult|limited|poorly)"
    r"|\b(?:play|plays) an? (?:important|crucial|key|vital|central) role\b"
    r"|^(?:however|despite|although|while|as|with the)\b"
    r"|\b(?:prone to|suffer(?:s)? from|struggle(?:s)? (?:to|with))\b"
    r"|^(?:previous|prior|existing|traditional|conventional|current|most|many) (?:\w+ )?"
    r"(?:works?|methods|approaches|studies|research|models|systems)\b",
    re.IGNORECASE,
)
CONTRIBUTION_BONUS = 0.08
RESULT_BONUS = 0.04
BACKGROUND_PENALTY = 0.10


def role_bonus(sentence: str) -> float:
    """Added to a sentence's score: up for own contributions and results, down for scene-setting.
    A sentence that states a contribution against a background ("Although X, we show Y")
    counts as a contribution."""
    if CONTRIBUTION.search(sentence):
        return CONTRIBUTION_BONUS + (RESULT_BONUS if RESULT.search(sentence) else 0.0)
    if BACKGROUND.search(sentence):
        return -BACKGROUND_PENALTY
    return RESULT_BONUS if RESULT.search(sentence) else 0.0


def is_contribution(sentence: str) -> bool:
    return role_bonus(sentence) > 0
