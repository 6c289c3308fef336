"""Feedback: 👍/👎 reactions on the bot's answers (dpytest, raw gateway events) and /good /bad in
chat become records; `feedback export` writes eval questions that `paperbot eval` runs."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import discord
import discord.ext.test as dpytest
import pytest
from discord.ext.test import backend, factories
from typer.testing import CliRunner

from assistant.errors import PaperbotError
from assistant.feedback import FeedbackLog, feedback_log
from assistant.models import Answer, Citation, Paper
from assistant.settings import Settings
from connectors.cli import app
from connectors.discord_bot import PaperbotBot
from tests import discord_harness as harness

runner = CliRunner()


def an_answer(question: str, titles: list[str], standalone: str | None = None) -> Answer:
    cited = tuple(Citation(n, Paper(f"id-{n}", title, "abstract")) for n, title in enumerate(titles, start=1))
    return Answer(question, "text [1].", not titles, "extractive", cited, standalone=standalone)


# ---- the log itself ------------------------------------------------------------------


def test_votes_lists_and_eval_questions(tmp_path: Path) -> None:
    log = FeedbackLog(tmp_path / "feedback.sqlite3")
    liked = log.record_answer(an_answer("what is grokking?", ["Grokking", "Memorization"]), "default", "chat")
    disliked = log.record_answer(an_answer("and kelp?", ["Kelp"], "what is grokking? and kelp?"), "default", "chat")
    refused = log.record_answer(an_answer("sourdough?", []), "default", "chat")
    other = log.record_answer(an_answer("comets?", ["Comets"]), "space", "discord", [111])
    unvoted = log.record_answer(an_answer("never rated", ["X"]), "default", "chat")
    for answer_id, verdict in ((liked, "good"), (liked, "good"), (disliked, "good"), (disliked, "bad")):
        log.vote(answer_id, verdict)  # type: ignore[arg-type]
    log.vote(disliked, "bad")
    log.vote(refused, "good")
    log.vote(other, "good")
    records = {r.answer_id: r for r in log.records("default")}
    assert set(records) == {liked, disliked, refused} and unvoted not in records
    assert (records[liked].good, records[liked].bad) == (2, 0)
    assert (records[disliked].good, records[disliked].bad) == (1, 2)
    assert [r.answer_id for r in log.records("default", bad_only=True)] == [disliked]
    assert records[disliked].standalone == "what is grokking? and kelp?"
    assert log.eval_questions("default") == [
        {"question": "sourdough?", "relevant_titles": []},  # a good refusal: the library must refuse it
        {"question": "what is grokking?", "relevant_titles": ["Grokking", "Memorization"]},
    ]
    assert log.answer_for_message(111) == other and log.answer_for_message(222) is None
    log.withdraw(liked, "good")
    assert next(r for r in log.records("default") if r.answer_id == liked).good == 1


def test_clearing_leaves_no_trace_of_the_questions(tmp_path: Path) -> None:
    log = FeedbackLog(tmp_path / "feedback.sqlite3")
    kept = log.record_answer(an_answer("a question about comets", ["Comets"]), "space", "chat")
    gone = log.record_answer(an_answer("a question about sea urchins", ["Urchins"]), "default", "discord", [5])
    log.vote(kept, "good")
    log.vote(gone, "good")
    assert log.clear("default") == 1
    assert [r.answer_id for r in log.records(None)] == [kept] and log.answer_for_message(5) is None
    assert b"sea urchins" not in log.path.read_bytes()  # compacted, not just unlinked rows
    assert log.clear() == 1 and log.records(None) == []
    assert b"comets" not in log.path.read_bytes()


def test_answers_nobody_voted_on_are_forgotten_after_keep_days(tmp_path: Path) -> None:
    log = FeedbackLog(tmp_path / "feedback.sqlite3", keep_days=7)
    old_voted = log.record_answer(an_answer("old but rated", ["A"]), "default", "discord", [1])
    log.record_answer(an_answer("old, never rated", ["B"]), "default", "discord", [2])
    log.vote(old_voted, "bad")
    with sqlite3.connect(log.path) as db:  # as if both were posted 8 days ago
        db.execute("UPDATE answers SET asked = '2000-01-01T00:00:00+00:00'")
    log.record_answer(an_answer("new", ["C"]), "default", "discord", [3])
    assert log.answer_for_message(2) is None and log.answer_for_message(1) == old_voted
    assert log.answer_for_message(3) is not None


def test_a_damaged_log_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "feedback.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(PaperbotError, match="not usable"):
        FeedbackLog(path).records()


# ---- Discord reactions ---------------------------------------------------------------


@pytest.fixture
def bot(papers_bot: harness.RunningBot) -> tuple[PaperbotBot, Settings]:
    return papers_bot.client, papers_bot.settings


async def answer_messages(client: PaperbotBot, question: str) -> list[discord.Message]:
    await dpytest.message(f"<@{client.user.id}> {question}")  # type: ignore[union-attr]
    sent = []
    while not dpytest.sent_queue.empty():
        sent.append(await dpytest.sent_queue.get())
    return [m for m in sent if m.author == client.user]


async def react(message: discord.Message, user: Any, emoji: str, *, added: bool = True) -> None:
    """A reaction as the gateway delivers it: raw data through discord.py's own parser."""
    data: dict[str, Any] = {
        "message_id": message.id,
        "channel_id": message.channel.id,
        "guild_id": message.guild.id if message.guild else None,
        "user_id": user.id,
        "emoji": {"id": None, "name": emoji},
        "type": 0,
        "burst": False,
    }
    state = backend.get_state()
    if added:
        if isinstance(user, discord.Member):
            data["member"] = factories.dict_from_member(user)
        state.parse_message_reaction_add(data)  # type: ignore[arg-type]
    else:
        state.parse_message_reaction_remove(data)  # type: ignore[arg-type]
    await dpytest.run_all_events()


def votes(settings: Settings) -> list[tuple[str, int, int]]:
    return [(r.question, r.good, r.bad) for r in feedback_log(settings.home).records()]


@pytest.mark.asyncio
async def test_reactions_on_an_answer_become_feedback(bot: Any) -> None:
    client, settings = bot
    alice, bob = dpytest.get_config().members
    text, *embeds = await answer_messages(client, "what is grokking?")
    assert embeds, "the answer has a sources embed"
    await react(text, alice, "👍")
    await react(embeds[0], bob, "👎🏽")  # any message of the answer, any skin tone
    await react(text, client.user, "👍")  # the bot's own reaction never counts
    await react(text, alice, "🎉")  # neither does any other emoji
    assert votes(settings) == [("what is grokking?", 1, 1)]
    [record] = feedback_log(settings.home).records()
    assert record.engine == "extractive" and record.channel == "discord" and record.library == "default"
    assert {c.title for c in record.cited} <= {p["title"] for p in harness.PAPERS} and record.cited
    await react(text, alice, "👍", added=False)  # taking the reaction back takes the vote back
    assert votes(settings) == [("what is grokking?", 0, 1)]
    stored = (settings.home / "feedback.sqlite3").read_bytes()
    assert b"alice" not in stored and str(alice.id).encode() not in stored  # no user names or ids


@pytest.mark.asyncio
async def test_a_reaction_on_an_answer_no_longer_cached_still_counts(bot: Any) -> None:
    client, settings = bot
    alice = dpytest.get_config().members[0]
    text, *_ = await answer_messages(client, "what is grokking?")
    client._connection._messages.clear()  # as after a restart: discord.py knows nothing of it
    assert client._connection._get_message(text.id) is None
    await react(text, alice, "👍")
    assert votes(settings) == [("what is grokking?", 1, 0)]


@pytest.mark.asyncio
async def test_with_feedback_off_the_bot_keeps_no_log(bot: Any) -> None:
    client, settings = bot
    client.feedback.enabled = False
    alice = dpytest.get_config().members[0]
    text, *_ = await answer_messages(client, "what is grokking?")
    await react(text, alice, "👍")
    assert not (settings.home / "feedback.sqlite3").exists()


# ---- chat /good /bad, export, eval ----------------------------------------------------


def test_chat_votes_export_and_eval(sample_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    shutil.copytree(sample_home, home)
    monkeypatch.setenv("PAPERBOT_HOME", str(home))
    lines = [
        "How do transformers generalize to sequences longer than those seen in training?",
        "/good",
        "and which of them change the positional encoding?",
        "/bad",
        "How can hate speech detection work across social media platforms?",
        "/bad",
        "/good",  # a second verdict on the same answer replaces the first
        "/quit",
    ]
    chat = runner.invoke(app, ["chat"], input="\n".join(lines) + "\n")
    assert chat.exit_code == 0, chat.output
    assert chat.stdout.count("Recorded: good") == 2 and chat.stdout.count("Recorded: bad") == 2
    listed = json.loads(runner.invoke(app, ["feedback", "list", "--json"]).stdout)["records"]
    assert [(r["good"], r["bad"]) for r in listed] == [(1, 0), (0, 1), (1, 0)]
    [bad] = json.loads(runner.invoke(app, ["feedback", "list", "--bad", "--json"]).stdout)["records"]
    assert bad["question"] == lines[2] and bad["standalone"] and bad["channel"] == "chat" and bad["cited"]
    exported = tmp_path / "from-use.jsonl"
    result = runner.invoke(app, ["feedback", "export", "-o", str(exported)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in exported.read_text().splitlines()]
    assert sorted(r["question"] for r in rows) == sorted([lines[0], lines[4]])
    assert all(r["relevant_titles"] for r in rows)
    report = runner.invoke(app, ["eval", str(exported), "--json"])
    assert report.exit_code == 0, report.output
    figures = json.loads(report.stdout)
    assert figures["questions"] == 2 and figures["missing_from_library"] == []
    assert figures["recall@10"] == 1.0  # what users liked is what retrieval finds today


def test_feedback_commands_on_an_empty_log(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAPERBOT_AUTO_SAMPLE", "false")
    assert "No feedback recorded." in runner.invoke(app, ["feedback", "list"]).stdout
    empty = runner.invoke(app, ["feedback", "export"])
    assert empty.exit_code == 1 and "no answers voted good yet" in empty.stderr
    chat = runner.invoke(app, ["chat"], input="/good\n/quit\n")
    assert "No answer to rate yet." in chat.stdout


def test_feedback_clear_from_the_command_line(tmp_path: Path) -> None:
    log = feedback_log(tmp_path / "home")  # the conftest's PAPERBOT_HOME
    log.vote(log.record_answer(an_answer("q one", ["A"]), "default", "chat"), "good")
    log.vote(log.record_answer(an_answer("q two", ["B"]), "lab", "chat"), "good")
    refused = runner.invoke(app, ["feedback", "clear"], input="n\n")
    assert refused.exit_code == 1 and "nothing deleted" in refused.stderr and len(log.records()) == 2
    assert runner.invoke(app, ["feedback", "clear", "--yes"]).exit_code == 0
    assert [r.library for r in log.records()] == ["lab"]
    assert runner.invoke(app, ["--library", "lab", "feedback", "clear", "-y"]).exit_code == 0
    assert log.records() == []
