"""Feedback on answers (👍/👎 in Discord, /good and /bad in chat), kept in <home>/feedback.sqlite3,
so real use becomes an eval set.

What is stored, and nothing more: the question, the standalone question it was searched
as, the answering engine, the cited papers (id and title), the library, where it was asked
("discord" or "chat"), the Discord message ids of the bot's own answer (to match a later
reaction), and per vote its verdict and time. No user names or ids, no other message text.

The bot notes each answer it posts, since a reaction may come days later. Answers nobody
voted on are forgotten after `keep_days`; answers with votes stay until cleared.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from assistant.errors import PaperbotError
from assistant.models import Answer

Verdict = Literal["good", "bad"]
VERDICTS: tuple[Verdict, ...] = ("good", "bad")
FILENAME = "feedback.sqlite3"

SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    id INTEGER PRIMARY KEY,
    library TEXT NOT NULL,
    channel TEXT NOT NULL,
    question TEXT NOT NULL,
    standalone TEXT,
    engine TEXT NOT NULL,
    refused INTEGER NOT NULL,
    cited TEXT NOT NULL,
    asked TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
    message_id TEXT PRIMARY KEY,
    answer_id INTEGER NOT NULL REFERENCES answers(id) ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS votes (
    id INTEGER PRIMARY KEY,
    answer_id INTEGER NOT NULL REFERENCES answers(id) ON DELETE CASCADE,
    verdict TEXT NOT NULL CHECK (verdict IN ('good', 'bad')),
    voted TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS votes_by_answer ON votes(answer_id);
CREATE INDEX IF NOT EXISTS messages_by_answer ON messages(answer_id);
"""


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Cited:
    paper_id: str
    title: str


@dataclass(frozen=True)
class FeedbackRecord:
    """One answer and the votes on it."""

    answer_id: int
    library: str
    channel: str
    question: str
    standalone: str | None
    engine: str
    refused: bool
    cited: tuple[Cited, ...]
    asked: str
    good: int
    bad: int
    last_vote: str | None

    @property
    def eval_question(self) -> str:
        """What retrieval was asked: a follow-up means little without its conversation."""
        return self.standalone or self.question

    def to_dict(self) -> dict[str, object]:
        data = {k: v for k, v in self.__dict__.items() if k != "cited"}
        return data | {"cited": [{"paper_id": c.paper_id, "title": c.title} for c in self.cited]}


class FeedbackLog:
    def __init__(self, path: Path, keep_days: int = 30) -> None:
        self.path = path
        self.keep_days = keep_days

    @contextlib.contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        """One short connection per operation: the bot calls from several threads."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=10)
        except (OSError, sqlite3.Error) as exc:
            raise PaperbotError(f"cannot open the feedback log {self.path}: {exc}") from None
        try:
            db.execute("PRAGMA foreign_keys = ON")
            db.executescript(SCHEMA)
            with db:  # one transaction: committed, or rolled back on error
                yield db
        except sqlite3.DatabaseError as exc:
            raise PaperbotError(f"the feedback log {self.path} is not usable: {exc}") from None
        finally:
            db.close()

    # ---- writing -------------------------------------------------------------

    def record_answer(self, answer: Answer, library: str, channel: str, message_ids: Sequence[int | str] = ()) -> int:
        """Notes an answer (and the ids of the messages showing it); returns its id."""
        cited = json.dumps([{"paper_id": c.paper.id, "title": c.paper.title} for c in answer.citations])
        with self._db() as db:
            self._forget_old(db)
            cursor = db.execute(
                "INSERT INTO answers (library, channel, question, standalone, engine, refused, cited, asked)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (library, channel, answer.question, answer.standalone, answer.engine, answer.refused, cited, now()),
            )
            answer_id = int(cursor.lastrowid or 0)
            db.executemany(
                "INSERT OR REPLACE INTO messages (message_id, answer_id) VALUES (?, ?)",
                [(str(mid), answer_id) for mid in message_ids],
            )
        return answer_id

    def _forget_old(self, db: sqlite3.Connection) -> None:
        cutoff = (datetime.now(UTC) - timedelta(days=self.keep_days)).isoformat(timespec="seconds")
        db.execute(
            "DELETE FROM answers WHERE asked < ? AND NOT EXISTS (SELECT 1 FROM votes WHERE answer_id = answers.id)",
            (cutoff,),
        )

    def answer_for_message(self, message_id: int | str) -> int | None:
        with self._db() as db:
            row = db.execute("SELECT answer_id FROM messages WHERE message_id = ?", (str(message_id),)).fetchone()
        return int(row[0]) if row else None

    def vote(self, answer_id: int, verdict: Verdict, *, replace: bool = False) -> None:
        """`replace`: this vote supersedes earlier ones (one person changing their mind in chat)."""
        with self._db() as db:
            if replace:
                db.execute("DELETE FROM votes WHERE answer_id = ?", (answer_id,))
            db.execute("INSERT INTO votes (answer_id, verdict, voted) VALUES (?, ?, ?)", (answer_id, verdict, now()))

    def withdraw(self, answer_id: int, verdict: Verdict) -> None:
        """A removed reaction takes back one vote of its kind."""
        with self._db() as db:
            db.execute(
                "DELETE FROM votes WHERE id = (SELECT max(id) FROM votes WHERE answer_id = ? AND verdict = ?)",
                (answer_id, verdict),
            )

    def clear(self, library: str | None = None) -> int:
        """Deletes every record (of one library, or all), the bot's notes of its answers too;
        returns how many answers went. The file is then compacted, so no deleted text lingers."""
        with self._db() as db:
            if library is None:
                count = db.execute("DELETE FROM answers").rowcount
            else:
                count = db.execute("DELETE FROM answers WHERE library = ?", (library,)).rowcount
        db = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        try:
            db.execute("VACUUM")
        except sqlite3.Error as exc:
            raise PaperbotError(f"cleared, but could not compact {self.path}: {exc}") from None
        finally:
            db.close()
        return int(count)

    # ---- reading -------------------------------------------------------------

    def records(self, library: str | None = None, *, bad_only: bool = False) -> list[FeedbackRecord]:
        """Answers with at least one vote, newest vote first."""
        query = """
            SELECT a.id, a.library, a.channel, a.question, a.standalone, a.engine, a.refused, a.cited, a.asked,
                   sum(v.verdict = 'good'), sum(v.verdict = 'bad'), max(v.voted)
            FROM answers a JOIN votes v ON v.answer_id = a.id
            WHERE (? IS NULL OR a.library = ?)
            GROUP BY a.id
            HAVING (? = 0 OR sum(v.verdict = 'bad') > 0)
            ORDER BY max(v.voted) DESC, a.id DESC
        """
        with self._db() as db:
            rows = db.execute(query, (library, library, int(bad_only))).fetchall()
        return [_record(row) for row in rows]

    def eval_questions(self, library: str | None = None) -> list[dict[str, object]]:
        """Answers voted more good than bad, as eval questions: the papers they cited are the
        relevant ones; a good refusal becomes a question that must be refused ([]).
        One entry per question; the most recently voted answer wins."""
        seen: set[str] = set()
        rows: list[dict[str, object]] = []
        for record in self.records(library):
            key = " ".join(record.eval_question.casefold().split())
            if record.good <= record.bad or key in seen:
                continue
            seen.add(key)
            titles = [] if record.refused else list(dict.fromkeys(c.title for c in record.cited))
            if titles or record.refused:
                rows.append({"question": record.eval_question, "relevant_titles": titles})
        return rows


def _record(row: tuple[object, ...]) -> FeedbackRecord:
    aid, library, channel, question, standalone, engine, refused, cited, asked, good, bad, last = row
    papers = tuple(Cited(str(c["paper_id"]), str(c["title"])) for c in json.loads(str(cited)))
    return FeedbackRecord(
        answer_id=int(str(aid)),
        library=str(library),
        channel=str(channel),
        question=str(question),
        standalone=str(standalone) if standalone is not None else None,
        engine=str(engine),
        refused=bool(refused),
        cited=papers,
        asked=str(asked),
        good=int(str(good or 0)),
        bad=int(str(bad or 0)),
        last_vote=str(last) if last is not None else None,
    )


def feedback_log(home: Path, keep_days: int = 30) -> FeedbackLog:
    return FeedbackLog(home / FILENAME, keep_days)
