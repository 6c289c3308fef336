"""The Discord-shaped pure parts: splitting, source lines, thread names, cooldowns, limits."""

from __future__ import annotations

from datetime import date

import pytest

from assistant.models import Citation, Paper
from connectors.discord_text import (
    MESSAGE_LIMIT,
    Cooldown,
    GuildLimit,
    embed_descriptions,
    inert,
    source_lines,
    split_text,
    thread_name,
)

SENTENCE = "Transformers fail to extrapolate to longer inputs than seen in training [1]."


def words_of(pieces: list[str]) -> list[str]:
    return " ".join(pieces).split()


def test_short_text_is_one_piece() -> None:
    assert split_text("One answer [1].") == ["One answer [1]."]


def test_a_long_answer_splits_at_sentences_within_the_limit_and_loses_nothing() -> None:
    text = " ".join(f"Claim number {i} holds for long inputs [{i % 3 + 1}]." for i in range(150))
    assert len(text) > 5000
    pieces = split_text(text)
    assert len(pieces) >= 3 and all(len(p) <= MESSAGE_LIMIT for p in pieces)
    assert words_of(pieces) == text.split()
    assert all(p.endswith("].") for p in pieces)  # each piece ends a sentence, citation whole


def test_paragraphs_are_kept_and_preferred_as_break_points() -> None:
    first, second = "A" * 1200 + " [1].", "B" * 1200 + " [2]."
    assert split_text(f"{first}\n\n{second}") == [first, second]
    assert split_text("Short one [1].\n\nShort two [2].") == ["Short one [1].\n\nShort two [2]."]


def test_a_sentence_longer_than_a_message_breaks_between_words() -> None:
    sentence = " ".join(["generalization"] * 300) + " [4]."
    pieces = split_text(sentence, limit=500)
    assert all(len(p) <= 500 for p in pieces)
    assert words_of(pieces) == sentence.split()
    assert not any(p.startswith(" ") or p.endswith(" ") for p in pieces)


def test_citations_are_never_cut() -> None:
    text = " ".join(SENTENCE for _ in range(80))
    for limit in (100, 333, 1000, 2000):
        for piece in split_text(text, limit):
            assert piece.count("[") == piece.count("]")


def test_source_lines_link_titles_and_pack_into_embeds() -> None:
    url = "https://arxiv.org/abs/1"
    with_url = Paper(id="1", title="Grokking [revisited]", abstract="x", url=url, date=date(2024, 5, 1))
    without = Paper(id="2", title="Daily Paper", abstract="y")
    lines = source_lines([Citation(1, with_url), Citation(2, without)])
    assert lines == ["**[1]** [Grokking (revisited)](https://arxiv.org/abs/1) (2024-05-01)", "**[2]** Daily Paper"]
    many = [f"**[{i}]** " + "t" * 300 for i in range(40)]
    descriptions = embed_descriptions(many)
    assert len(descriptions) == 4 and all(len(d) <= 4096 for d in descriptions)  # 13 lines of ~309 fit one
    assert "\n".join(descriptions).split("\n") == many


@pytest.mark.parametrize(
    ("question", "name"),
    [
        ("<@123> what is known about grokking?", "what is known about grokking?"),
        ("  many\n spaces ", "many spaces"),
        ("<@!42>", "paperbot"),
    ],
)
def test_thread_names(question: str, name: str) -> None:
    assert thread_name(question) == name


def test_long_thread_names_are_cut_at_a_word() -> None:
    name = thread_name("length generalization " * 20)
    assert len(name) <= 100 and name.endswith("…") and not name[:-1].endswith(" ")
    assert name[:-1].split()[-1] in {"length", "generalization"}


def test_cooldown_per_user() -> None:
    now = [100.0]
    cooldown = Cooldown(10, clock=lambda: now[0])
    assert cooldown.retry_after(1) == 0
    assert cooldown.retry_after(2) == 0  # another user is not held up
    now[0] = 104.0
    assert cooldown.retry_after(1) == pytest.approx(6.0)
    now[0] = 110.5
    assert cooldown.retry_after(1) == 0


def test_guild_limit_counts_running_questions() -> None:
    limit = GuildLimit(1)
    with limit.slot(7) as first:
        assert first
        with limit.slot(7) as second, limit.slot(8) as other_guild:
            assert not second and other_guild
    with limit.slot(7) as again:
        assert again


def test_inert_text_keeps_citations_and_breaks_markup_links_and_mentions() -> None:
    text = "See **this** [click](http://x.example) @everyone <@123> <@&4> <#5> a_b ||s|| `c` [1].\n# Big\n> q"
    shown = inert(text)
    assert "[1]." in shown and "**" not in shown.replace("\\*", "")
    assert "](" not in shown.replace("\\](", "") and "@everyone" not in shown
    assert all(m not in shown for m in ("<@123>", "<@&4>", "<#5>"))
    assert "\n\\# Big" in shown and "\n\\> q" in shown
    assert shown.replace("\\", "").replace("\u200b", "") == text  # what people read is unchanged
