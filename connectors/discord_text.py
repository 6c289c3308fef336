"""Discord-shaped text, with no discord import: message splitting within Discord's limits,
source lines for the embed, thread names, and the per-user / per-guild limits."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace

from assistant.models import Citation, Paper
from assistant.summary import Summary, Theme
from assistant.text import split_sentences

MESSAGE_LIMIT = 2000  # characters in one message
EMBED_LIMIT = 4096  # characters in one embed description
THREAD_NAME_LIMIT = 100
ZWSP = "\u200b"  # a zero-width space breaks mention syntax without changing what people read
_MARKUP = re.compile(r"([*_~`|\\]|\]\()")  # emphasis, code, spoilers, escapes, masked links "](url)"
_LINE_MARKUP = re.compile(r"^(\s*)(#{1,3}\s|-#\s|>|[-*]\s)", re.MULTILINE)  # headings, quotes, lists
_MENTION = re.compile(r"@(everyone|here)\b|<(@[!&]?|#)(\d+)>")
_SAFE_URL = re.compile(r"^https?://[^\s<>()\[\]]+$")  # a URL that cannot break out of the link markup
_HEADING = re.compile(r"^(#{1,3} )(.*)$")


def split_text(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Pieces of at most `limit` characters, broken between paragraphs, else between
    sentences, else between words: never inside a word or a [n] citation."""
    units: list[tuple[str, str]] = []  # (text, the separator that goes before it)
    for number, paragraph in enumerate(re.split(r"\n\s*\n", text.strip())):
        parts = [paragraph] if len(paragraph) <= limit else _sentences_or_words(paragraph, limit)
        units.extend((part, "\n\n" if i == 0 and number else " ") for i, part in enumerate(parts))
    return _pack(units, limit)


def _sentences_or_words(paragraph: str, limit: int) -> list[str]:
    units: list[str] = []
    for sentence in split_sentences(paragraph) or [paragraph]:
        units.extend([sentence] if len(sentence) <= limit else _words(sentence, limit))
    return units


def _words(sentence: str, limit: int) -> list[str]:
    words: list[str] = []
    for word in sentence.split():
        # Only a "word" longer than a whole message (a URL, say) is ever cut.
        words.extend(word[i : i + limit] for i in range(0, len(word), limit))
    return words


def _pack(units: Iterable[tuple[str, str]], limit: int) -> list[str]:
    """Greedy: as many units in each piece as fit."""
    pieces: list[str] = []
    current = ""
    for unit, separator in units:
        if current and len(current) + len(separator) + len(unit) > limit:
            pieces.append(current)
            current = unit
        else:
            current = f"{current}{separator}{unit}" if current else unit
    if current:
        pieces.append(current)
    return pieces


def inert(text: str) -> str:
    """The one escaping function for everything the bot shows that it did not write itself
    (titles, abstracts, questions, a model's reply, error messages quoting them): shown as
    written, no formatting, masked links, headings or mentions take effect. Citations like
    [1] are left as they are."""
    text = _MARKUP.sub(lambda m: "\\" + m.group(1), text)
    text = _LINE_MARKUP.sub(lambda m: m.group(1) + "\\" + m.group(2), text)
    return _MENTION.sub(_break_mention, text)


def _break_mention(match: re.Match[str]) -> str:
    if match.group(1):
        return f"@{ZWSP}{match.group(1)}"
    return f"<{match.group(2)}{ZWSP}{match.group(3)}>"


def link_text(text: str) -> str:
    """Text for inside a [text](url) link: escaped, and brackets that would end it early made round."""
    return inert(text.replace("[", "(").replace("]", ")"))


def linked_title(paper: Paper) -> str:
    title = link_text(paper.title)
    return f"[{title}]({paper.url})" if safe_url(paper.url) else title


def safe_url(url: str | None) -> str | None:
    """The URL when it cannot break out of link markup (no spaces, brackets or parentheses)."""
    return url if url and _SAFE_URL.match(url) else None


def source_lines(citations: Iterable[Citation]) -> list[str]:
    lines = []
    for citation in citations:
        paper = citation.paper
        linked = linked_title(paper)
        when = f" ({paper.date.isoformat()})" if paper.date else ""
        lines.append(f"**[{citation.n}]** {linked}{when}")
    return lines


def embed_descriptions(lines: list[str], limit: int = EMBED_LIMIT) -> list[str]:
    """Source lines packed into as few embed descriptions as fit, one line never split."""
    return _pack(((line[:limit], "\n") for line in lines), limit)


def thread_name(question: str, limit: int = THREAD_NAME_LIMIT) -> str:
    """The question as a thread title: one line, cut at a word, never empty."""
    words = " ".join(question.split())
    words = re.sub(r"<@[!&]?\d+>", "", words).strip() or "paperbot"  # mentions make poor titles
    if len(words) <= limit:
        return words
    cut = words[: limit - 1].rsplit(" ", 1)[0] or words[: limit - 1]
    return cut + "…"


class Cooldown:
    """At most one question per user every `seconds`."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self.clock = clock
        self._last: dict[int, float] = {}

    def retry_after(self, user_id: int) -> float:
        """0 and the question is counted, or the seconds the user still has to wait."""
        now = self.clock()
        waited = now - self._last.get(user_id, float("-inf"))
        if waited < self.seconds:
            return self.seconds - waited
        self._last[user_id] = now
        return 0.0


class GuildLimit:
    """At most `limit` questions being answered at once in one guild."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._running: dict[int, int] = {}

    @contextmanager
    def slot(self, guild_id: int) -> Iterator[bool]:
        """Yields False (and takes nothing) when the guild is at its limit."""
        if self._running.get(guild_id, 0) >= self.limit:
            yield False
            return
        self._running[guild_id] = self._running.get(guild_id, 0) + 1
        try:
            yield True
        finally:
            self._running[guild_id] -= 1


def inert_summary(summary: Summary) -> Summary:
    """The summary with every text from the library, the model or the user escaped, for
    rendering as Discord Markdown; the headings and lists the renderer adds still work."""
    return replace(
        summary,
        topic=inert(summary.topic),
        scope=inert(summary.scope),
        notice=inert(summary.notice) if summary.notice else None,
        body=_inert_lines(summary.body) if summary.body else None,
        themes=tuple(Theme(inert(t.name), tuple((inert(s), n) for s, n in t.sentences)) for t in summary.themes),
        open_questions=tuple((inert(s), n) for s, n in summary.open_questions),
        references=tuple(Citation(c.n, _inert_paper(c.paper)) for c in summary.references),
    )


def _inert_lines(markdown: str) -> str:
    """A model's Markdown: its own headings stay headings, everything in them is escaped."""
    lines = []
    for line in markdown.splitlines():
        heading = _HEADING.match(line)
        lines.append(heading.group(1) + inert(heading.group(2)) if heading else inert(line))
    return "\n".join(lines)


def _inert_paper(paper: Paper) -> Paper:
    authors = tuple(inert(a) for a in paper.authors)
    return replace(paper, title=inert(paper.title), authors=authors, url=safe_url(paper.url))
