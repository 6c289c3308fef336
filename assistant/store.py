"""The Chroma side of the library. The only module that imports chromadb.

Two collections: `<prefix>-chunks` (one vector per chunk, what retrieval queries) and
`<prefix>-papers` (one record per paper: its JSON, content hash, and mean vector). A
paper's record is written after its chunks, so the record marks a completed paper: an
interrupted ingest leaves no record and the paper is simply written again next time.
"""

from __future__ import annotations

import atexit
import errno
import functools
import logging
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ParamSpec, TypeVar
from urllib.parse import urlparse

import httpx
import numpy as np
import tenacity

from assistant.chroma_import import load_chromadb
from assistant.errors import PaperbotError
from assistant.models import Chunk, Filters, Paper, ScoredChunk, date_int, filter_fields, format_flag
from assistant.settings import Settings
from assistant.sources.common import title_key

log = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")
PAGE = 5000
# How a full or read-only disk shows through Chroma's SQLite (its errors carry no errno).
_STORAGE_FAILURES = ("disk I/O error", "disk is full", "readonly database", "No space left", "File too large")
# How a damaged chroma.sqlite3 shows (SQLite codes 11 and 26).
_DAMAGE = ("disk image is malformed", "file is not a database", "database corruption")
REVISION_ID = "revision"


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
    doi: str = ""
    year: int = 0  # 0: undated


@dataclass(frozen=True)
class IndexRow:
    """One document for the lexical index: a chunk, or a paper's title (with the paper's
    record as JSON, so questions read papers from the index, not from Chroma)."""

    key: str
    paper_id: str
    text: str
    fields: dict[str, Any]
    record: str = ""


@dataclass(frozen=True)
class PaperWrite:
    paper: Paper
    chunks: list[Chunk]
    vectors: np.ndarray


def stored_paper(pid: str, meta: dict[str, Any]) -> StoredPaper:
    return StoredPaper(
        pid,
        str(meta["content_hash"]),
        str(meta["title_key"]),
        str(meta.get("chunking", "")),
        str(meta.get("doi", "")),
        int(meta.get("year", 0)),
    )


def index_rows(writes: Sequence[PaperWrite]) -> tuple[list[IndexRow], list[IndexRow]]:
    """The keyword index's rows for what was written: (chunk rows, title rows)."""
    chunks = [
        IndexRow(chunk.id, item.paper.id, chunk.text, chunk_metadata(item.paper, chunk))
        for item in writes
        for chunk in item.chunks
    ]
    titles = [
        IndexRow(item.paper.id, item.paper.id, item.paper.title, _paper_metadata(item.paper), item.paper.to_json())
        for item in writes
    ]
    return chunks, titles


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
    if filters.input_format:
        clauses.append({format_flag(filters.input_format): True})
    if len(clauses) > 1:
        return {"$and": clauses}
    return clauses[0] if clauses else None


def damaged(exc: BaseException) -> bool:
    return any(marker in str(exc) for marker in _DAMAGE)


def damage_error(path: Path, exc: BaseException) -> PaperbotError:
    return PaperbotError(
        f"the library's store {path / 'chroma.sqlite3'} is damaged ({exc}): nothing was changed; restore "
        f"{path} from a backup, or move it away and ingest your files again (`paperbot health` shows the state)"
    )


def make_client(settings: Settings) -> Any:
    if settings.chroma.url is None:
        return embedded_client(settings.home / "chroma")
    return server_client(settings)


def embedded_client(path: Path) -> Any:
    """A PersistentClient on `path`; on a snapshot copy when `path` cannot be written, because
    Chroma writes into chroma.sqlite3 whenever a client starts (its `acquire_write` lock row)."""
    chromadb = load_chromadb()
    from chromadb.config import Settings as ChromaConfig

    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PaperbotError(f"cannot create the library in {path}: {exc.strerror or exc}") from None
    opened = path if writable(path) else read_only_copy(path)
    try:
        return chromadb.PersistentClient(path=str(opened), settings=ChromaConfig(anonymized_telemetry=False))
    except Exception as exc:
        if damaged(exc):
            raise damage_error(path, exc) from None
        if storage_error(exc):
            raise PaperbotError(f"cannot open the library in {path}: {exc}") from None
        raise


def writable(path: Path) -> bool:
    files = [path, *(p for p in path.rglob("*"))] if path.exists() else [path.parent]
    return all(os.access(p, os.W_OK) for p in files[:64])  # the folder, the sqlite file, the first segments


def read_only_copy(path: Path) -> Path:
    """A private copy of a read-only library, removed at exit: reading needs no write access."""
    copy = Path(tempfile.mkdtemp(prefix="paperbot-readonly-")) / "chroma"
    atexit.register(shutil.rmtree, copy.parent, True)
    log.info("%s is read-only: reading from a private copy", path)
    try:
        shutil.copytree(path, copy, copy_function=shutil.copyfile)
        for item in [copy, *copy.rglob("*")]:  # copytree keeps the folders' read-only modes
            item.chmod(item.stat().st_mode | 0o700 if item.is_dir() else 0o600)
    except OSError as exc:
        raise PaperbotError(f"cannot read the library in {path}: {exc.strerror or exc}") from None
    return copy


def forget_client(settings: Settings) -> None:
    """Drop this process's cached embedded Chroma for the home, so the next client reads the
    files afresh: an embedded client keeps its vector index in memory and never sees
    vectors another process wrote. Clients of this process on the same path move to the
    new one with it."""
    if settings.chroma.url is not None:
        return
    from chromadb.api.shared_system_client import SharedSystemClient

    SharedSystemClient._identifier_to_system.pop(str(settings.home / "chroma"), None)


def server_client(settings: Settings) -> Any:
    chromadb = load_chromadb()
    from chromadb.config import Settings as ChromaConfig

    url = urlparse(settings.chroma.url or "")
    # A server started beside the bot (docker compose) may still be starting: retry with backoff.
    connect = backoff(settings.chroma.retries, Exception)  # chromadb raises plain ValueError/ConnectionError variants
    try:
        return connect(
            chromadb.HttpClient,
            host=url.hostname or "localhost",
            port=url.port or (443 if url.scheme == "https" else 8000),
            ssl=url.scheme == "https",
            settings=ChromaConfig(anonymized_telemetry=False),
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


class CollectionProxy:
    """A Chroma collection whose method calls go through `_call` (retries, clear errors)."""

    _collection: Any

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._collection, name)
        if not callable(method):  # plain attributes (name, metadata) pass through
            return method
        return functools.partial(self._call, method)

    def _call(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return method(*args, **kwargs)


class Guarded(CollectionProxy):
    """A Chroma collection on a server whose calls retry a lost connection with backoff and
    then fail as one clear PaperbotError; the next call tries the server afresh."""

    def __init__(self, collection: Any, url: str, retries: int) -> None:
        self._collection = collection
        self._url = url
        self._retry = backoff(retries, httpx.TransportError)

    def _call(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return self._retry(method, *args, **kwargs)
        except httpx.TransportError as exc:
            raise PaperbotError(f"lost the Chroma server at {self._url} ({exc}); try again shortly") from None


class Checked(CollectionProxy):
    """An embedded Chroma collection whose calls turn a damaged chroma.sqlite3 into one clear error."""

    def __init__(self, collection: Any, path: Path) -> None:
        self._collection = collection
        self._path = path

    def _call(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except Exception as exc:
            if damaged(exc):
                raise damage_error(self._path, exc) from None
            raise


class ChromaStore:
    def __init__(self, settings: Settings, embedder_name: str) -> None:
        self.client = make_client(settings)
        self.path = settings.home / "chroma"
        self.url = settings.chroma.url
        self.retries = settings.chroma.retries
        self.embedder_name = embedder_name
        self.chunking = f"{settings.chunking.size}/{settings.chunking.overlap}"
        prefix = settings.collection_prefix()
        self.chunks = self._collection(f"{prefix}-chunks")
        self.papers = self._collection(f"{prefix}-papers")
        self.meta = self._collection(f"{prefix}-meta") if self.url else None
        self.max_batch = int(self.client.get_max_batch_size())

    def _collection(self, name: str) -> Any:
        """Looked up first, created only when missing: a reader never writes collection metadata."""
        metadata = {"hnsw:space": "cosine", "embedder": self.embedder_name}
        try:
            collection = self.client.get_collection(name, embedding_function=None)
        except Exception as exc:
            if damaged(exc):
                raise damage_error(self.path, exc) from None
            collection = self._create(name, metadata)
        built_with = (collection.metadata or {}).get("embedder")
        if built_with != self.embedder_name:
            raise PaperbotError(
                f"the library was embedded with {built_with}, not {self.embedder_name}: "
                "use another PAPERBOT_HOME or collection for a different embedding model"
            )
        return Checked(collection, self.path) if self.url is None else Guarded(collection, self.url, self.retries)

    def _create(self, name: str, metadata: dict[str, Any]) -> Any:
        try:
            return self.client.get_or_create_collection(name, metadata=metadata, embedding_function=None)
        except Exception as exc:
            if damaged(exc):
                raise damage_error(self.path, exc) from None
            if storage_error(exc):
                raise PaperbotError(f"cannot write the library in {self.path} (disk full or not writable)") from None
            raise

    # ---- revision (server mode) ------------------------------------------------

    def revision_token(self) -> str | None:
        """Server mode: a token every committed change replaces, so processes with other homes
        see that their keyword index is stale. Embedded mode: None (the home's index file
        carries the revision)."""
        if self.meta is None:
            return None
        page = self.meta.get(ids=[REVISION_ID], include=["metadatas"])
        return str(page["metadatas"][0]["token"]) if page["ids"] else ""

    @writing
    def new_revision_token(self) -> str | None:
        if self.meta is None:
            return None
        token = uuid.uuid4().hex
        self.meta.upsert(ids=[REVISION_ID], embeddings=[[1.0]], metadatas=[{"token": token}])
        return token

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
            for pid, meta in zip(page["ids"], page["metadatas"], strict=True):
                found[pid] = stored_paper(pid, meta)
        return found

    def stored_matching(
        self, ids: Sequence[str], title_keys: Sequence[str], dois: Sequence[str] = ()
    ) -> tuple[dict[str, StoredPaper], dict[str, Paper]]:
        """Stored papers with one of these ids, title keys or DOIs, and their records: what
        ingest compares a batch with, without reading the whole library."""
        found: dict[str, StoredPaper] = {}
        records: dict[str, Paper] = {}
        for start in range(0, len(ids), PAGE):
            page = self.papers.get(ids=list(ids[start : start + PAGE]), include=["metadatas", "documents"])
            self._add_stored(found, records, page)
        for key, values in (("title_key", title_keys), ("doi", dois)):
            keys = sorted(set(values))
            for start in range(0, len(keys), PAGE):
                where = {key: {"$in": keys[start : start + PAGE]}}
                self._add_stored(found, records, self.papers.get(where=where, include=["metadatas", "documents"]))
        return found, records

    def stored_chunks(self, paper_ids: Sequence[str]) -> tuple[dict[str, np.ndarray], dict[str, list[str]]]:
        """The chunks these papers have in the store: vectors by text hash (so unchanged text
        is never embedded again) and chunk ids by paper (to remove the ones a rewrite drops)."""
        vectors: dict[str, np.ndarray] = {}
        chunk_ids: dict[str, list[str]] = {}
        for where in _paper_filters(paper_ids):
            page = self.chunks.get(where=where, include=["metadatas", "embeddings"])
            for cid, meta, vector in zip(page["ids"], page["metadatas"], page["embeddings"], strict=True):
                vectors[str(meta["text_hash"])] = np.asarray(vector, dtype=np.float32)
                chunk_ids.setdefault(str(meta["paper_id"]), []).append(cid)
        return vectors, chunk_ids

    @staticmethod
    def _add_stored(found: dict[str, StoredPaper], records: dict[str, Paper], page: Any) -> None:
        for pid, meta, doc in zip(page["ids"], page["metadatas"], page["documents"], strict=True):
            found[pid] = stored_paper(pid, meta)
            records[pid] = Paper.from_json(doc)

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

    def chunk_rows(self, paper_ids: Sequence[str] | None = None) -> Iterator[IndexRow]:
        """Chunk texts and filter fields (of every chunk, or of these papers' chunks): what the
        lexical index is built from."""
        for where in _paper_filters(paper_ids):
            for page in self._pages(self.chunks, ["metadatas", "documents"], where):
                for cid, meta, doc in zip(page["ids"], page["metadatas"], page["documents"], strict=True):
                    yield IndexRow(cid, str(meta["paper_id"]), doc, meta)

    def chunk_papers(self) -> Iterator[tuple[str, str]]:
        """(chunk id, paper id) of every chunk, without texts or vectors."""
        for page in self._pages(self.chunks, ["metadatas"]):
            yield from ((cid, str(meta["paper_id"])) for cid, meta in zip(page["ids"], page["metadatas"], strict=True))

    def title_rows(self, paper_ids: Sequence[str] | None = None) -> Iterator[IndexRow]:
        include = ["metadatas", "documents"]
        if paper_ids is None:
            pages: Iterator[Any] = self._pages(self.papers, include)
        else:
            ids = list(paper_ids)
            pages = (
                self.papers.get(ids=ids[start : start + PAGE], include=include) for start in range(0, len(ids), PAGE)
            )
        for page in pages:
            for pid, meta, doc in zip(page["ids"], page["metadatas"], page["documents"], strict=True):
                yield IndexRow(pid, pid, str(meta["title"]), meta, doc)

    def chunk_vectors_by_paper(self, paper_ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Each paper's chunk vectors as one matrix (rows = chunks)."""
        rows: dict[str, list[Any]] = {}
        for meta, vector in self._chunks_of(paper_ids):
            rows.setdefault(str(meta["paper_id"]), []).append(vector)
        return {pid: np.asarray(vectors, dtype=np.float32) for pid, vectors in rows.items()}

    def paper_vectors(self, paper_ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Each paper's mean chunk vector (unit length), the vector its record carries,
        computed from the chunks: any read of the papers collection makes Chroma load that
        collection's whole vector index (about 2 KB a paper), which questions do not need."""
        return {pid: _mean_vector(rows) for pid, rows in self.chunk_vectors_by_paper(paper_ids).items()}

    def chunk_texts(self, chunk_ids: Sequence[str]) -> dict[str, str]:
        if not chunk_ids:
            return {}
        page = self.chunks.get(ids=list(chunk_ids), include=["documents"])
        return dict(zip(page["ids"], page["documents"], strict=True))

    def counts(self) -> tuple[int, int]:
        return int(self.papers.count()), int(self.chunks.count())

    def is_empty(self) -> bool:
        """No paper stored. Asked of the chunks: every paper has at least one, and any read of
        the papers collection (a count too) makes Chroma load its whole vector index."""
        return self.chunk_count() == 0

    def chunk_count(self) -> int:
        return int(self.chunks.count())

    def count_dated(self) -> int:
        """Papers with a date (undated ones have no `date` field, so date filters leave them out)."""
        return len(self.papers.get(where={"date": {"$gte": 0}}, include=[])["ids"])

    def query(self, vector: np.ndarray, n: int, filters: Filters) -> list[ScoredChunk]:
        # No count() first: Chroma returns what there is when n exceeds it, and a count
        # costs a scan of the collection's records on every question.
        if n <= 0:
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
        if n <= 0:
            return []
        result = self.papers.query(query_embeddings=[vector.tolist()], n_results=n, include=["distances"])
        return [(pid, 1.0 - float(dist)) for pid, dist in zip(result["ids"][0], result["distances"][0], strict=True)]

    # ---- writing -------------------------------------------------------------

    @writing
    def write(self, writes: Sequence[PaperWrite], stale: Sequence[str] = ()) -> None:
        """Chunks first, `stale` chunks (of these papers, no longer wanted) removed, then the
        paper records that mark completion."""
        ids, vectors, docs, metas = [], [], [], []
        for item in writes:
            for chunk, vector in zip(item.chunks, item.vectors, strict=True):
                ids.append(chunk.id)
                vectors.append(vector)
                docs.append(chunk.text)
                metas.append(chunk_metadata(item.paper, chunk))
        self._upsert(self.chunks, ids, vectors, docs, metas)
        for start in range(0, len(stale), PAGE):
            self.chunks.delete(ids=list(stale[start : start + PAGE]))
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
    if paper.doi:  # a str or absent: Chroma metadata holds no None
        meta["doi"] = paper.doi
    return meta | filter_fields(paper)
