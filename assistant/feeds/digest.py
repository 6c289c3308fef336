"""Digests without Discord: which channels follow which feed (SQLite in the home, so they
survive restarts), which papers each channel already got, and how a digest is chosen."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from assistant.errors import PaperbotError
from assistant.feeds.fetch import DAILY, FeedRequest, arxiv_category, daily_papers
from assistant.feeds.records import FeedItem
from assistant.text import split_sentences

FILENAME = "digests.sqlite3"
MAX_KEYWORDS_CHARS = 200
MAX_FINDING_CHARS = 300
WORD = re.compile(r"\w+")
# Words that mark the sentence of an abstract saying what the paper found or achieved.
FINDING = re.compile(
    r"\b(we (show|find|found|demonstrate|prove|observe|report)|results? (show|indicate|suggest)|outperform\w*|"
    r"achiev\w*|improv\w*|reduc\w*|state-of-the-art)\b",
    re.IGNORECASE,
)
SCHEMA = """
create table if not exists subscriptions (
    channel_id integer not null, guild_id integer not null, feed text not null,
    keywords text not null default '', created text not null, primary key (channel_id, feed));
create table if not exists delivered (
    channel_id integer not null, paper_id text not null, sent text not null, primary key (channel_id, paper_id));
"""


@dataclass(frozen=True)
class Subscription:
    channel_id: int
    guild_id: int
    feed: str  # "daily-papers" or "arxiv:<category>"
    keywords: str = ""

    def request(self) -> FeedRequest:
        return feed_request(self.feed)


def feed_name(feed: str, category: str | None) -> str:
    """The feed key for /subscribe's arguments; a clear error for anything else."""
    if feed == DAILY:
        return DAILY
    if feed == "arxiv" and category:
        return arxiv_category(category.strip()).key
    if feed == "arxiv":
        raise PaperbotError("name an arXiv category, e.g. `/subscribe arxiv cs.LG`")
    raise PaperbotError(f"unknown feed {feed!r}: choose daily-papers or arxiv")


def feed_request(feed: str) -> FeedRequest:
    return daily_papers() if feed == DAILY else arxiv_category(feed.removeprefix("arxiv:"))


def clean_keywords(raw: str | None) -> str:
    words = " ".join(WORD.findall(raw or ""))
    if len(words) > MAX_KEYWORDS_CHARS:
        raise PaperbotError(f"keywords are limited to {MAX_KEYWORDS_CHARS} characters")
    return words


class SubscriptionStore:
    """One short connection per call: calls come from the event loop and from worker threads."""

    def __init__(self, home: Path) -> None:
        self.path = home / FILENAME

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with closing(sqlite3.connect(self.path, timeout=10)) as db, db:
                db.executescript(SCHEMA)
                yield db
        except sqlite3.Error as exc:
            raise PaperbotError(f"subscriptions in {self.path}: {exc}") from None

    def subscribe(self, sub: Subscription, at: datetime) -> None:
        with self._db() as db:
            db.execute(
                "insert or replace into subscriptions values (?, ?, ?, ?, ?)",
                (sub.channel_id, sub.guild_id, sub.feed, sub.keywords, at.isoformat()),
            )

    def unsubscribe(self, channel_id: int, feed: str | None = None) -> int:
        """How many subscriptions were removed (all of the channel's when `feed` is None)."""
        with self._db() as db:
            if feed is None:
                return db.execute("delete from subscriptions where channel_id = ?", (channel_id,)).rowcount
            return db.execute(
                "delete from subscriptions where channel_id = ? and feed = ?", (channel_id, feed)
            ).rowcount

    def subscriptions(self, channel_id: int | None = None) -> list[Subscription]:
        query = "select channel_id, guild_id, feed, keywords from subscriptions"
        with self._db() as db:
            if channel_id is None:
                rows = db.execute(query + " order by channel_id, feed").fetchall()
            else:
                rows = db.execute(query + " where channel_id = ? order by feed", (channel_id,)).fetchall()
        return [Subscription(*row) for row in rows]

    def delivered(self, channel_id: int, paper_ids: Sequence[str]) -> set[str]:
        with self._db() as db:
            marks = ",".join("?" * len(paper_ids))
            rows = db.execute(
                f"select paper_id from delivered where channel_id = ? and paper_id in ({marks})",
                (channel_id, *paper_ids),
            ).fetchall()
        return {row[0] for row in rows}

    def mark_delivered(self, channel_id: int, paper_ids: Sequence[str], at: datetime) -> None:
        with self._db() as db:
            db.executemany(
                "insert or ignore into delivered values (?, ?, ?)",
                [(channel_id, pid, at.isoformat()) for pid in paper_ids],
            )


def choose(items: Sequence[FeedItem], keywords: str, already: set[str], count: int) -> list[FeedItem]:
    """The `count` best new papers the channel has not had: keyword matches first (a title
    match counts double), then in the feed's order."""
    fresh = [item for item in items if item.is_new and item.paper.id not in already]
    unique = list({item.paper.id: item for item in fresh}.values())
    terms = {word.casefold() for word in WORD.findall(keywords)}
    ranked = sorted(enumerate(unique), key=lambda pair: (-_score(pair[1], terms), pair[0]))
    return [item for _, item in ranked[:count]]


def _score(item: FeedItem, terms: set[str]) -> int:
    if not terms:
        return 0
    title = [w.casefold() for w in WORD.findall(item.paper.title)]
    abstract = [w.casefold() for w in WORD.findall(item.paper.abstract)]
    return 2 * sum(w in terms for w in title) + sum(w in terms for w in abstract)


def finding(abstract: str) -> str:
    """One sentence of what the paper finds: the first that says so, else the first."""
    sentences = split_sentences(abstract) or [abstract]
    chosen = next((s for s in sentences if FINDING.search(s)), sentences[0])
    if len(chosen) <= MAX_FINDING_CHARS:
        return chosen
    return chosen[: MAX_FINDING_CHARS - 1].rsplit(" ", 1)[0] + "…"
