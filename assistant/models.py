"""Domain records: a Paper is what users think in, a Chunk is what retrieval works on."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, replace
from datetime import date


@dataclass(frozen=True)
class Paper:
    """One paper, whatever file it came from. `id` is stable across runs."""

    id: str
    title: str
    abstract: str
    authors: tuple[str, ...] = ()
    author_count: int | None = None
    date: date | None = None
    url: str | None = None
    categories: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    doi: str | None = None  # lower-cased, without a resolver prefix

    @property
    def arxiv_id(self) -> str | None:
        """Ids are an arXiv id, or a hash of the title ("t-") or of the DOI ("doi-")."""
        return None if self.id.startswith(("t-", "doi-")) else self.id

    @property
    def identifiers(self) -> dict[str, str]:
        """Every identifier the paper is known by, for lookups and exports."""
        found = {"id": self.id}
        if self.arxiv_id:
            found["arxiv"] = self.arxiv_id
        if self.doi:
            found["doi"] = self.doi
        return found

    @property
    def n_authors(self) -> int | None:
        return len(self.authors) if self.authors else self.author_count

    def content_hash(self) -> str:
        """Changes whenever anything stored about the paper changes."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:16]

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["date"] = self.date.isoformat() if self.date else None
        data["authors"] = list(self.authors)
        data["categories"] = list(self.categories)
        data["sources"] = list(self.sources)
        if self.doi is None:
            del data["doi"]  # papers without one keep the content hash they had before DOIs existed
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Paper:
        data = json.loads(text)
        published = date.fromisoformat(data["date"]) if data.get("date") else None
        return cls(
            id=data["id"],
            title=data["title"],
            abstract=data["abstract"],
            authors=tuple(data.get("authors") or ()),
            author_count=data.get("author_count"),
            date=published,
            url=data.get("url"),
            categories=tuple(data.get("categories") or ()),
            sources=tuple(data.get("sources") or ()),
            doi=data.get("doi") or None,
        )

    def with_id(self, paper_id: str) -> Paper:
        return replace(self, id=paper_id)


@dataclass(frozen=True)
class Chunk:
    """A retrievable piece of one paper's abstract; `text` excludes the title."""

    paper_id: str
    index: int
    title: str
    text: str

    @property
    def id(self) -> str:
        return f"{self.paper_id}#{self.index}"

    @property
    def embed_text(self) -> str:
        """Title plus chunk, so a title match counts for every chunk of the paper."""
        return f"{self.title}\n{self.text}"

    def text_hash(self) -> str:
        return hashlib.sha256(self.embed_text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class ScoredChunk:
    """A chunk the dense index returned, with its cosine similarity to the query."""

    chunk_id: str
    paper_id: str
    score: float


@dataclass(frozen=True)
class ScoredPaper:
    """A retrieved paper. `score` ranks (fused, mode-dependent); `similarity` is the best
    cosine between the question and one of the paper's chunks, what the relevance gate reads."""

    paper: Paper
    score: float
    similarity: float = 0.0
    chunk_ids: tuple[str, ...] = ()  # the paper's chunks that matched, best first


@dataclass(frozen=True)
class Citation:
    n: int
    paper: Paper


@dataclass(frozen=True)
class Answer:
    question: str
    text: str
    refused: bool
    engine: str
    citations: tuple[Citation, ...] = ()
    sources: tuple[ScoredPaper, ...] = ()
    unsupported: tuple[str, ...] = ()  # cited sentences their sources do not back
    notice: str | None = None  # e.g. the LLM was unavailable and this is the fallback
    standalone: str | None = None  # the follow-up rewritten with the chat history, when it was


@dataclass(frozen=True)
class Filters:
    """Restrictions on which papers retrieval may return; both indexes apply the same ones."""

    since: date | None = None
    until: date | None = None
    input_format: str | None = None  # the format a paper was read from (`--source` on the CLI)

    def __bool__(self) -> bool:
        return any((self.since, self.until, self.input_format))


def date_int(value: date) -> int:
    """20240131 for 2024-01-31: Chroma's range filters compare numbers only."""
    return value.year * 10000 + value.month * 100 + value.day


def format_flag(input_format: str) -> str:
    """The boolean field that marks an input format a paper was read from: Chroma metadata holds no lists."""
    return "src_" + input_format.replace("-", "_")


def filter_fields(paper: Paper) -> dict[str, int | bool]:
    """The scalar fields filters work on, stored with every chunk and paper record."""
    fields: dict[str, int | bool] = {format_flag(source): True for source in paper.sources}
    if paper.date:
        fields["date"] = date_int(paper.date)
        fields["year"] = paper.date.year
    return fields
