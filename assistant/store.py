"""The Chroma side of the library. The only module that imports chromadb.

Two collections: `<prefix>-chunks` (one vector per chunk, what retrieval queries) and
`<prefix>-papers` (one record per paper: its JSON, content hash, and mean vector). A
paper's record is written after its chunks, so the record marks a completed paper: an
interrupted ingest leaves no record and the paper is simply written again next time.
"""

from __future__ import annotations

import errno
import functools
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar
from urllib.parse import urlparse

import httpx
import numpy as np
import tenacity

from assistant.errors import PaperbotError
from assistant.models import Chunk, Filters, Paper, ScoredChunk, date_int, filter_fields, source_flag
from assistant.settings import Settings
from assistant.sources.common import title_key

log = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")
PAGE = 5000
# How a full or read-only disk shows through Chroma's SQLite (its errors carry no errno).
_STORAGE_FAILURES = ("disk I/O error", "disk is full", "readonly database", "No space left", "File too large")


def storage_error(exc: BaseException) -> bool:
    if isinstance(exc, OSError) and exc.errno in {errno.ENOSPC, errno.EFBIG, errno.EROFS, errno.EDQUOT}:
        return True
    return any(marker in str(exc) for marker in _STORAGE_FAILURES)


def writing(method: Callable[P, R]) -> Callable[P, R]:
    """A write the disk refused becomes one clear error. Papers are recorded only after their
    chunks, so what was stored before stays complete and the next run writes the rest."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except PaperbotError:
            raise
        except Exception as exc:
            if storage_error(exc):
                raise PaperbotError(f"cannot write the library (disk full or not writable): {exc}") from None
            raise

    return wrapper


@dataclass(frozen=True)
class StoredPaper:
    """What ingest needs to know about a paper already in the library."""

    id: str
    content_hash: str
    title_key: str
    chunking: str  # the chunk size/overlap it was split with; another one means re-chunking


@dataclass(frozen=True)
class IndexRow:
    """One document for the lexical index: a chunk, or a paper's title."""

    key: str
    paper_id: str
    text: str
    fields: dict[str, Any]


@dataclass(frozen=True)
class PaperWrite:
    paper: Paper
    chunks: list[Chunk]
    vectors: np.ndarray


def chunk_metadata(paper: Paper, chunk: Chunk) -> dict[str, Any]:
    meta: dict[str, Any] = {"paper_id": paper.id, "chunk": chunk.index, "title": paper.title}
    meta["text_hash"] = chunk.text_hash()
    return meta | filter_fields(paper)


def where_clause(filters: Filters) -> dict[str, Any] | None:
    clauses: list[dict[str, Any]] = []
    if filters.since:
        clauses.append({"date": {"$gte": date_int(filters.since)}})
    if filters.until:
        clauses.append({"date": {"$lte": date_int(filters.until)}})
    if filters.source:
        clauses.append({source_flag(filters.source): True})
    if len(clauses) > 1:
        return {"$and": clauses}
    return clauses[0] if clauses else None


def make_client(settings: Settings) -> Any:
    import chromadb
    from chromadb.config import Settings as ChromaConfig

    config = ChromaConfig(anonymized_telemetry=False)
    if settings.chroma.url is None:
        path = settings.home / "chroma"
        path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(path), settings=config)
    url = urlparse(settings.chroma.url)
    # A server started beside the bot (docker compose) may still be starting: retry with backoff.
    connect = backoff(settings.chroma.retries, Exception)  # chromadb raises plain ValueError/ConnectionError variants
    try:
        return connect(
            chromadb.HttpClient,
            host=url.hostname or "localhost",
            port=url.port or (443 if url.scheme == "https" else 8000),
            ssl=url.scheme == "https",
            settings=config,
        )
    except Exception as exc:
        raise PaperbotError(f"cannot reach the Chroma server at {settings.chroma.url}: {exc}") from None


def backoff(retries: int, errors: type[BaseException]) -> tenacity.Retrying:
    """`retries` more tries after a failure, waiting 0.5 s, 1 s, 2 s... (at most 4 s) between them."""
    return tenacity.Retrying(
        retry=tenacity.retry_if_exception_type(errors),
        stop=tenacity.stop_after_attempt(retries + 1),
        wait=tenacity.wait_exponential(multiplier=0.5, max=4),
        reraise=True,
    )


class Guarded:
    """A Chroma collection on a server whose calls retry a lost connection with backoff and
    then fail as one clear PaperbotError; the next call tries the server afresh."""

    def __init__(self, collection: Any, url: str, retries: int) -> None:
        self._collection = collection
        self._url = url
        self._retry = backoff(retries, httpx.TransportError)

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._collection, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return self._retry(method, *args, **kwargs)
            except httpx.TransportError as exc:
                raise PaperbotError(f"lost the Chroma server at {self._url} ({exc}); try again shortly") from None

        return call


class ChromaStore:
    def __init__(self, settings: Settings, embedder_name: str) -> None:
        self.client = make_client(settings)
        self.url = settings.chroma.url
        self.retries = settings.chroma.retries
        self.embedder_name = embedder_name
        self.chunking = f"{settings.chunking.size}/{settings.chunking.overlap}"
        prefix = settings.collection_prefix()
        self.chunks = self._collection(f"{prefix}-chunks")
        self.papers = self._collection(f"{prefix}-papers")
        self.max_batch = int(self.client.get_max_batch_size())

    def _collection(self, name: str) -> Any:
        metadata = {"hnsw:space": "cosine", "embedder": self.embedder_name}
        collection = self.client.get_or_create_collection(name, metadata=metadata, embedding_function=None)
        built_with = (collection.metadata or {}).get("embedder")
        if built_with != self.embedder_name:
            raise PaperbotError(
                f"the library was embedded with {built_with}, not {self.embedder_name}: "
                "use another PAPERBOT_HOME or collection for a different embedding model"
            )
        return collection if self.url is None else Guarded(collection, self.url, self.retries)

    # ---- reading -------------------------------------------------------------

    def _pages(self, collection: Any, include: list[str], where: dict[str, Any] | None = None) -> Iterator[Any]:
        offset = 0
        while True:
            page = collection.get(include=include, limit=PAGE, offset=offset, where=where)
            if not page["ids"]:
                return
            yield page
            offset += len(page["ids"])

    def stored_papers(self) -> dict[str, StoredPaper]:
        found: dict[str, StoredPaper] = {}
        for page in self._pages(self.papers, ["metadatas"]):
            self._add_stored(found, page)
        return found

    def stored_matching(self, ids: Sequence[str], title_keys: Sequence[str]) -> dict[str, StoredPaper]:
        """Stored papers with one of these ids or title keys: what ingest compares a batch with,
        without reading the whole library."""
        found: dict[str, StoredPaper] = {}
        for start in range(0, len(ids), PAGE):
            self._add_stored(found, self.papers.get(ids=list(ids[start : start + PAGE]), include=["metadatas"]))
        keys = sorted(set(title_keys))
        for start in range(0, len(keys), PAGE):
            where = {"title_key": {"$in": keys[start : start + PAGE]}}
            self._add_stored(found, self.papers.get(where=where, include=["metadatas"]))
        return found

    @staticmethod
    def _add_stored(found: dict[str, StoredPaper], page: Any) -> None:
        for pid, meta in zip(page["ids"], page["metadatas"], strict=True):
            found[pid] = StoredPaper(
                pid, str(meta["content_hash"]), str(meta["title_key"]), str(meta.get("chunking", ""))
            )

    def get_papers(self, ids: Sequence[str]) -> dict[str, Paper]:
        found: dict[str, Paper] = {}
        for start in range(0, len(ids), PAGE):
            page = self.papers.get(ids=list(ids[start : start + PAGE]), include=["documents"])
            found.update((pid, Paper.from_json(doc)) for pid, doc in zip(page["ids"], page["documents"], strict=True))
        return found

    def all_papers(self) -> Iterator[Paper]:
        for page in self._pages(self.papers, ["documents"]):
            yield from (Paper.from_json(doc) for doc in page["documents"])

    def _chunks_of(self, paper_ids: Sequence[str]) -> Iterator[tuple[dict[str, Any], Any]]:
        """(metadata, vector) of every chunk of these papers."""
        if not paper_ids:
            return
        page = self.chunks.get(where={"paper_id": {"$in": list(paper_ids)}}, include=["metadatas", "embeddings"])
        yield from zip(page["metadatas"], page["embeddings"], strict=True)

    def chunk_vectors(self, paper_ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Stored vectors by text hash, so unchanged chunk text is never embedded again."""
        return {
            str(meta["text_hash"]): np.asarray(vector, dtype=np.float32) for meta, vector in self._chunks_of(paper_ids)
        }

    def chunk_rows(self, paper_ids: Sequence[str] | None = None) -> Iterator[IndexRow]:
        """Chunk texts and filter fields (of every chunk, or of these papers' chunks): what the
        lexical index is built from."""
        for where in _paper_filters(paper_ids):
            for page in self._pages(self.chunks, ["metadatas", "documents"], where):
                for cid, meta, doc in zip(page["ids"], page["metadatas"], page["documents"], strict=True):
                    yield IndexRow(cid, str(meta["paper_id"]), doc, meta)

    def title_rows(self, paper_ids: Sequence[str] | None = None) -> Iterator[IndexRow]:
        if paper_ids is not None:
            for start in range(0, len(paper_ids), PAGE):
                page = self.papers.get(ids=list(paper_ids[start : start + PAGE]), include=["metadatas"])
                yield from (
                    IndexRow(pid, pid, str(m["title"]), m)
                    for pid, m in zip(page["ids"], page["metadatas"], strict=True)
                )
            return
        for page in self._pages(self.papers, ["metadatas"]):
            for pid, meta in zip(page["ids"], page["metadatas"], strict=True):
                yield IndexRow(pid, pid, str(meta["title"]), meta)

    def chunk_vectors_by_paper(self, paper_ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Each paper's chunk vectors as one matrix (rows = chunks)."""
        rows: dict[str, list[Any]] = {}
        for meta, vector in self._chunks_of(paper_ids):
            rows.setdefault(str(meta["paper_id"]), []).append(vector)
        return {pid: np.asarray(vectors, dtype=np.float32) for pid, vectors in rows.items()}

    def paper_vectors(self, paper_ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Each paper's mean chunk vector (unit length)."""
        if not paper_ids:
            return {}
        page = self.papers.get(ids=list(paper_ids), include=["embeddings"])
        return {
            pid: np.asarray(vector, dtype=np.float32)
            for pid, vector in zip(page["ids"], page["embeddings"], strict=True)
        }

    def chunk_texts(self, chunk_ids: Sequence[str]) -> dict[str, str]:
        if not chunk_ids:
            return {}
        page = self.chunks.get(ids=list(chunk_ids), include=["documents"])
        return dict(zip(page["ids"], page["documents"], strict=True))

    def counts(self) -> tuple[int, int]:
        return int(self.papers.count()), int(self.chunks.count())

    def query(self, vector: np.ndarray, n: int, filters: Filters) -> list[ScoredChunk]:
        n = min(n, int(self.chunks.count()))
        if n == 0:
            return []
        result = self.chunks.query(
            query_embeddings=[vector.tolist()],
            n_results=n,
            where=where_clause(filters),
            include=["metadatas", "distances"],  # fusion needs ranks and paper ids, not texts
        )
        rows = zip(result["ids"][0], result["metadatas"][0], result["distances"][0], strict=True)
        return [ScoredChunk(cid, str(meta["paper_id"]), 1.0 - float(dist)) for cid, meta, dist in rows]

    def nearest_papers(self, vector: np.ndarray, n: int) -> list[tuple[str, float]]:
        """(paper id, cosine) of the n papers whose mean vectors are closest to `vector`."""
        n = min(n, int(self.papers.count()))
        if n == 0:
            return []
        result = self.papers.query(query_embeddings=[vector.tolist()], n_results=n, include=["distances"])
        return [(pid, 1.0 - float(dist)) for pid, dist in zip(result["ids"][0], result["distances"][0], strict=True)]

    # ---- writing -------------------------------------------------------------

    @writing
    def write(self, writes: Sequence[PaperWrite]) -> None:
        """Chunks first, stale chunks removed, then the paper records that mark completion."""
        ids, vectors, docs, metas = [], [], [], []
        for item in writes:
            for chunk, vector in zip(item.chunks, item.vectors, strict=True):
                ids.append(chunk.id)
                vectors.append(vector)
                docs.append(chunk.text)
                metas.append(chunk_metadata(item.paper, chunk))
        self._upsert(self.chunks, ids, vectors, docs, metas)
        self._delete_stale_chunks(writes)
        self._upsert(
            self.papers,
            [item.paper.id for item in writes],
            [_mean_vector(item.vectors) for item in writes],
            [item.paper.to_json() for item in writes],
            [_paper_metadata(item.paper) | {"chunking": self.chunking} for item in writes],
        )

    def _upsert(self, collection: Any, ids: list[str], vectors: list[Any], docs: list[str], metas: list[Any]) -> None:
        for start in range(0, len(ids), self.max_batch):
            end = start + self.max_batch
            collection.upsert(
                ids=ids[start:end],
                embeddings=np.asarray(vectors[start:end], dtype=np.float32),
                documents=docs[start:end],
                metadatas=metas[start:end],
            )

    def _delete_stale_chunks(self, writes: Sequence[PaperWrite]) -> None:
        """Chunks of these papers left by an older version (or an interrupted run)."""
        keep = {chunk.id for item in writes for chunk in item.chunks}
        paper_ids = [item.paper.id for item in writes]
        for start in range(0, len(paper_ids), PAGE):
            where = {"paper_id": {"$in": paper_ids[start : start + PAGE]}}
            existing = self.chunks.get(where=where, include=[])["ids"]
            stale = [cid for cid in existing if cid not in keep]
            if stale:
                self.chunks.delete(ids=stale)

    @writing
    def delete(self, paper_ids: Sequence[str]) -> None:
        """Record first, so a paper is never listed while its chunks are half gone."""
        if paper_ids:
            self.papers.delete(ids=list(paper_ids))
            self.chunks.delete(where={"paper_id": {"$in": list(paper_ids)}})


def _paper_filters(paper_ids: Sequence[str] | None) -> Iterator[dict[str, Any] | None]:
    """No filter for everything, else `paper_id $in` over pages of ids."""
    if paper_ids is None:
        yield None
        return
    ids = list(paper_ids)
    for start in range(0, len(ids), PAGE):
        yield {"paper_id": {"$in": ids[start : start + PAGE]}}


def _mean_vector(vectors: np.ndarray) -> np.ndarray:
    mean = np.asarray(vectors, dtype=np.float32).mean(axis=0)
    return mean / max(float(np.linalg.norm(mean)), 1e-12)


def _paper_metadata(paper: Paper) -> dict[str, Any]:
    meta = {"content_hash": paper.content_hash(), "title_key": title_key(paper.title), "title": paper.title}
    return meta | filter_fields(paper)
