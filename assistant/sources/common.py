"""What every parser shares: paper ids, title keys, dates, and the parse result."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import BinaryIO

from assistant.errors import PaperbotError
from assistant.models import Paper

# An arXiv identifier: new style (2401.01234) or old style (hep-th/9901001, math.AG/0101001).
ARXIV_CORE = r"\d{4}\.\d{4,5}|[a-z\-]+(?:\.[A-Z]{2})?/\d{7}"
ARXIV_ID = re.compile(rf"^({ARXIV_CORE})(v\d+)?$")
_SPACES = re.compile(r"\s+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")  # C0 and C1 controls except whitespace
_NON_WORD = re.compile(r"[^\w]+")


# A record is a Paper, or the reason (with file and line) it was rejected.
Record = Paper | str

# An abstract is a paragraph; a "record" of megabytes is a broken or hostile file, and would
# cost a megabyte of embedding work per chunk run.
MAX_ABSTRACT_CHARS = 20_000


@dataclass
class ParsedFile:
    """Papers read from one file, and the records left out with the reason why."""

    path: Path
    format: str
    papers: list[Paper] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def clean_text(text: str) -> str:
    """Collapse the hard line wraps and runs of spaces that arXiv text carries, and drop
    control characters (a terminal escape in an abstract must not reach anyone's terminal)."""
    return _CONTROL.sub("", _SPACES.sub(" ", text)).strip()  # NEL (U+0085) is a space, not dropped


def title_key(title: str) -> str:
    """A key under which differently punctuated or cased copies of a title meet."""
    folded = unicodedata.normalize("NFKD", title).casefold()
    return _NON_WORD.sub(" ", folded).strip()


def arxiv_id(raw: str | None) -> str | None:
    """The version-less arXiv id in `raw`, or None when it is not one."""
    if not raw:
        return None
    candidate = raw.strip().removeprefix("arXiv:").rsplit("/abs/", 1)[-1]
    match = ARXIV_ID.match(candidate)
    return match.group(1) if match else None


def paper_id(title: str, arxiv: str | None) -> str:
    """The arXiv id where known, else a hash of the normalized title."""
    if arxiv:
        return arxiv
    return "t-" + hashlib.sha1(title_key(title).encode()).hexdigest()[:12]


def arxiv_url(arxiv: str | None) -> str | None:
    return f"https://arxiv.org/abs/{arxiv}" if arxiv else None


_DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y", "%a, %d %b %Y %H:%M:%S %Z", "%b %d, %Y", "%Y")


def parse_date(raw: str | None) -> date | None:
    """Dates as the supported formats write them; None for anything else."""
    if not raw or not raw.strip():
        return None
    text = raw.strip()
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def make_paper(
    *,
    title: str,
    abstract: str,
    source: str,
    raw_id: str | None = None,
    authors: tuple[str, ...] = (),
    author_count: int | None = None,
    published: date | None = None,
    url: str | None = None,
    categories: tuple[str, ...] = (),
) -> Paper:
    """Build a Paper with a stable id and normalized text."""
    title = clean_text(title)
    arxiv = arxiv_id(raw_id)
    return Paper(
        id=paper_id(title, arxiv),
        title=title,
        abstract=clean_text(abstract),
        authors=authors,
        author_count=author_count,
        date=published,
        url=url or arxiv_url(arxiv),
        categories=categories,
        sources=(source,),
    )


def missing_fields(title: str, abstract: str) -> str | None:
    """Why a record cannot be a paper, or None when it can."""
    missing = [name for name, value in (("title", title), ("abstract", abstract)) if not value.strip()]
    if missing:
        return f"no {' or '.join(missing)}"
    if len(abstract) > MAX_ABSTRACT_CHARS:
        return f"abstract of {len(abstract):,} characters (the limit is {MAX_ABSTRACT_CHARS:,})"
    return None


def check_head(path: Path) -> None:
    """File-level problems (empty, binary), found before anything is read or written."""
    head_text(path)


# No paper record needs more than this on one line (an abstract is at most 20,000
# characters); a longer "line", up to a multi-GB file with no newline, is skipped unread.
MAX_LINE_BYTES = 1 << 20


def numbered_lines(path: Path, errors: str = "strict") -> Iterator[tuple[int, str | LineTooLong | None]]:
    """(line number, text) read one bounded line at a time, so memory does not grow with the
    file or the line; text is LineTooLong for a line over MAX_LINE_BYTES, and None for one
    that is not valid UTF-8 (unless `errors` is "replace")."""
    with path.open("rb") as handle:
        number = 0
        while raw := handle.readline(MAX_LINE_BYTES + 1):
            number += 1
            if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
                yield number, LineTooLong(_skip_rest_of_line(handle) + len(raw))
                continue
            try:
                yield number, raw.decode("utf-8-sig" if number == 1 else "utf-8", errors)
            except UnicodeDecodeError:
                yield number, None


@dataclass(frozen=True)
class LineTooLong:
    size: int

    def __str__(self) -> str:
        return f"line of {self.size:,} bytes (the limit is {MAX_LINE_BYTES:,})"


def _skip_rest_of_line(handle: BinaryIO) -> int:
    """Reads past the rest of an overlong line in bounded pieces; returns the bytes skipped."""
    skipped = 0
    while piece := handle.readline(MAX_LINE_BYTES):
        skipped += len(piece)
        if piece.endswith(b"\n"):
            break
    return skipped


def _check_bytes(path: Path, data: bytes) -> None:
    if not data.strip():
        raise PaperbotError(f"{path}: file is empty")
    if b"\x00" in data[:8192]:
        raise PaperbotError(f"{path}: binary file, not a paper library")


def head_text(path: Path, size: int = 8192) -> str:
    """The start of a file, for sniffing its format without reading all of it."""
    with path.open("rb") as handle:
        data = handle.read(size)
    _check_bytes(path, data)
    return data.decode("utf-8-sig", errors="replace")  # a byte-order mark is not part of a column name


def read_text(path: Path) -> str:
    """The file's text; a clear error for empty, binary or non-UTF-8 files."""
    data = path.read_bytes()
    _check_bytes(path, data)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PaperbotError(f"{path}: not UTF-8 text (byte {exc.start})") from None
