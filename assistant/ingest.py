"""Ingest: check every file first, then stream records in batches and write only what changed.

A file that cannot be read at all (missing, empty, binary, unknown format) stops the run
before anything is written. Within a file, a bad line or record is rejected with its line
number and the rest is ingested. Files stream one line at a time and are planned and
written STREAM_BATCH papers at a time, so memory does not grow with the file.

Idempotent by content hash: an unchanged paper costs a hash comparison; a changed one
re-embeds only chunk texts whose hash is new.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from assistant.embeddings import Embedder
from assistant.errors import PaperbotError
from assistant.merge import Identity, match_keys, merge_papers, same_work, update_stored
from assistant.models import Chunk, Paper
from assistant.settings import ChunkingSettings
from assistant.sources import expand_paths, file_format, read_records
from assistant.sources.common import title_key
from assistant.store import ChromaStore, PaperWrite, StoredPaper

Progress = Callable[[int], None]
WRITE_BATCH = 128
STREAM_BATCH = 4096
# Reasons kept for the report; a file with a million bad lines is counted, not listed.
MAX_REASONS = 1000


@dataclass
class IngestReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: list[str] = field(default_factory=list)
    skipped_count: int = 0
    files: int = 0
    no_abstract: int = 0  # of the skipped: records with a title but no abstract

    def skip(self, reason: str) -> None:
        self.skipped_count += 1
        self.no_abstract += reason.endswith("no abstract")
        if len(self.skipped) < MAX_REASONS:
            self.skipped.append(reason)

    def to_dict(self) -> dict[str, object]:
        return {
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "skipped": self.skipped_count,
            "skipped_reasons": self.skipped,
            "no_abstract": self.no_abstract,
            "files": self.files,
        }


@dataclass
class Plan:
    """Papers to write (new or changed) and ids to drop (a paper that got its arXiv id)."""

    writes: list[Paper] = field(default_factory=list)
    retired_ids: list[str] = field(default_factory=list)
    report: IngestReport = field(default_factory=IngestReport)


def open_sources(paths: Iterable[Path], fmt: str | None, report: IngestReport) -> list[tuple[Path, str]]:
    """Every file with its format, checked before anything is written. A file named on the
    command line that cannot be read stops the run; one found in a folder (notes, a README,
    a figure) is left out with the reason."""
    paths = list(paths)
    named = set(paths)
    files = []
    for path, reason in expand_paths(paths):
        try:
            if reason:
                raise PaperbotError(reason)
            files.append((path, _format_of(path, fmt)))
        except PaperbotError as exc:
            if path in named:
                raise
            report.skip(str(exc))
    report.files = len(files)
    return files


def _format_of(path: Path, fmt: str | None) -> str:
    try:
        return file_format(path, fmt)
    except OSError as exc:
        raise PaperbotError(f"{path}: cannot read ({exc.strerror or type(exc).__name__})") from None


def stream_papers(files: Sequence[tuple[Path, str]], report: IngestReport) -> Iterator[Paper]:
    for path, fmt in files:
        try:
            for record in read_records(path, fmt):
                if isinstance(record, str):
                    report.skip(record)
                else:
                    yield record
        except OSError as exc:  # checked at open, yet a disk or a network share can still fail
            raise PaperbotError(f"{path}: cannot read ({exc.strerror or type(exc).__name__})") from None


def require_papers(paths: Iterable[Path], report: IngestReport) -> None:
    """Nothing ingested from what the user named is a failure, said with the first reason."""
    if report.added or report.updated or report.unchanged:
        return
    named = ", ".join(str(path) for path in paths)
    if report.skipped:
        why = f"{report.skipped_count} skipped, the first: {report.skipped[0]}"
    else:
        why = "no file in it to read"
    raise PaperbotError(f"no papers ingested from {named} ({report.files} files read; {why})")


def batched(papers: Iterable[Paper], size: int) -> Iterator[list[Paper]]:
    batch: list[Paper] = []
    for paper in papers:
        batch.append(paper)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def read_library(paths: Iterable[Path], fmt: str | None) -> tuple[list[Paper], IngestReport]:
    """Every paper at once, merged: for benchmarks and tests on small libraries."""
    report = IngestReport()
    papers = list(stream_papers(open_sources(paths, fmt, report), report))
    return merge_papers(papers), report


@dataclass
class Stored:
    """What one batch needs to know of the library, read once before planning."""

    papers: dict[str, StoredPaper]  # stored papers sharing an id, a DOI or a title key with the batch
    records: dict[str, Paper]  # their records
    vectors: dict[str, np.ndarray]  # chunk vectors by text hash, of the papers that may be written
    chunk_ids: dict[str, list[str]]  # their stored chunk ids, by paper

    def match(self, paper: Paper) -> StoredPaper | None:
        """The stored copy of this work: same id, else same DOI, else same title and year;
        never a paper with another arXiv id."""
        return self.papers.get(paper.id) or _same_work_stored(paper, self.by_key)

    @cached_property
    def by_key(self) -> dict[str, list[tuple[Identity, StoredPaper]]]:
        return _index_stored(self.papers)


def read_stored(incoming: list[Paper], store: ChromaStore) -> Stored:
    papers, records = store.stored_matching(
        [p.id for p in incoming], [title_key(p.title) for p in incoming], [p.doi for p in incoming if p.doi]
    )
    partial = Stored(papers, records, {}, {})
    touched: set[str] = set()
    for paper in incoming:
        match = partial.match(paper)
        if match is None or match.content_hash != paper.content_hash() or match.chunking != store.chunking:
            touched.add(paper.id)  # an interrupted run may have left chunks under a new id too
            touched.update([match.id] if match else [])
    vectors, chunk_ids = store.stored_chunks(sorted(touched))
    return Stored(papers, records, vectors, chunk_ids)


def plan_ingest(incoming: list[Paper], stored: Stored, chunking: str, report: IngestReport) -> Plan:
    plan = Plan(report=report)
    for paper in incoming:
        _plan_one(plan, paper, stored.match(paper), stored.records, chunking)
    return plan


def stored_identity(entry: StoredPaper) -> Identity:
    arxiv = None if entry.id.startswith(("t-", "doi-")) else entry.id
    return Identity(arxiv, entry.doi or None, entry.title_key, entry.year or None)


def _index_stored(stored: dict[str, StoredPaper]) -> dict[str, list[tuple[Identity, StoredPaper]]]:
    index: dict[str, list[tuple[Identity, StoredPaper]]] = {}
    for entry in stored.values():
        identity = stored_identity(entry)
        for key in match_keys(identity):
            index.setdefault(key, []).append((identity, entry))
    return index


def _same_work_stored(paper: Paper, index: dict[str, list[tuple[Identity, StoredPaper]]]) -> StoredPaper | None:
    """The stored copy of this work: by DOI, else by title and year; never a paper with
    another arXiv id."""
    identity = Identity.of(paper)
    for key in match_keys(identity)[::-1]:  # identifiers before titles
        for other, entry in index.get(key, ()):
            if same_work(identity, other):
                return entry
    return None


def _plan_one(plan: Plan, paper: Paper, match: StoredPaper | None, previous: dict[str, Paper], chunking: str) -> None:
    if match is None:
        plan.writes.append(paper)
        plan.report.added += 1
        return
    merged = update_stored(previous[match.id], paper) if match.id in previous else paper
    if match.content_hash == merged.content_hash() and match.chunking == chunking:
        plan.report.unchanged += 1
        return
    plan.writes.append(merged)
    plan.report.updated += 1
    if merged.id != match.id:
        plan.retired_ids.append(match.id)


def apply_plan(
    plan: Plan, stored: Stored, store: ChromaStore, embedder: Embedder, chunking: ChunkingSettings, progress: Progress
) -> list[PaperWrite]:
    """Writes the plan (WRITE_BATCH papers at a time, so a crash keeps what was done) and
    returns what it wrote, for the keyword index."""
    written: list[PaperWrite] = []
    for start in range(0, len(plan.writes), WRITE_BATCH):
        writes = _prepare(plan.writes[start : start + WRITE_BATCH], stored, embedder, chunking)
        keep = {chunk.id for item in writes for chunk in item.chunks}
        stale = [cid for item in writes for cid in stored.chunk_ids.get(item.paper.id, []) if cid not in keep]
        store.write(writes, stale)
        written.extend(writes)
        progress(len(writes))
    store.delete(plan.retired_ids)
    return written


def _prepare(
    papers: Sequence[Paper], stored: Stored, embedder: Embedder, chunking: ChunkingSettings
) -> list[PaperWrite]:
    from assistant.chunking import chunk_paper  # llama-index takes ~1.2 s to import; only writing needs it

    chunked = [chunk_paper(paper, chunking.size, chunking.overlap) for paper in papers]
    flat = [chunk for chunks in chunked for chunk in chunks]
    vectors = _vectors_for(flat, stored.vectors, embedder)
    writes, offset = [], 0
    for paper, chunks in zip(papers, chunked, strict=True):
        writes.append(PaperWrite(paper, chunks, vectors[offset : offset + len(chunks)]))
        offset += len(chunks)
    return writes


def _vectors_for(chunks: list[Chunk], known: dict[str, np.ndarray], embedder: Embedder) -> np.ndarray:
    """Stored vectors where the text is unchanged; the embedder for the rest."""
    hashes = [chunk.text_hash() for chunk in chunks]
    todo = [i for i, h in enumerate(hashes) if h not in known]
    fresh = embedder.embed([chunks[i].embed_text for i in todo])
    rows = dict(zip(todo, fresh, strict=True))
    return np.asarray([rows[i] if i in rows else known[h] for i, h in enumerate(hashes)], dtype=np.float32)
