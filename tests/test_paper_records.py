"""Questions read paper records from the keyword index, never from Chroma's papers
collection: any read of that collection makes Chroma load its whole vector index (about
2 KB a paper), which the bot does not need to answer (docs/scale.md)."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from assistant.engine import Engine, sample_library
from assistant.settings import Settings
from tests.fakes import HashingEmbedder


class Recorder:
    """Stands in front of a collection and notes every method called on it."""

    def __init__(self, collection: Any, calls: list[str]) -> None:
        self._collection = collection
        self._calls = calls

    def __getattr__(self, name: str) -> Any:
        self._calls.append(name)
        return getattr(self._collection, name)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample library, ingested once; each test works on its own copy."""
    home = tmp_path_factory.mktemp("records") / "home"
    Engine(Settings(home=home), embedder=HashingEmbedder()).ingest([sample_library()])
    return home


def library(built: Path, tmp_path: Path) -> Settings:
    shutil.copytree(built, tmp_path / "home")
    return Settings(home=tmp_path / "home")


def test_questions_never_touch_the_papers_collection(built: Path, tmp_path: Path) -> None:
    engine = Engine(library(built, tmp_path), embedder=HashingEmbedder())
    engine.lexical()  # opening checks the index against the store
    calls: list[str] = []
    engine.store.papers = Recorder(engine.store.papers, calls)
    found = engine.search("length generalization in transformers", 5)
    engine.ask("Which papers study reasoning in language models?")
    engine.ask("papers about diffusion models")  # a topical question: diversified by paper vectors
    assert found and calls == []


def test_index_records_are_the_stored_papers(built: Path, tmp_path: Path) -> None:
    engine = Engine(library(built, tmp_path), embedder=HashingEmbedder())
    ids = engine.lexical().paper_ids()
    assert len(ids) == engine.store.counts()[0] > 100
    assert engine.lexical().papers(ids) == engine.store.get_papers(ids)
    assert engine.lexical().papers(["no-such-paper"]) == {}


def test_paper_vectors_from_chunks_match_the_stored_mean_vectors(built: Path, tmp_path: Path) -> None:
    engine = Engine(library(built, tmp_path), embedder=HashingEmbedder())
    ids = sorted(engine.lexical().paper_ids())[:20]
    stored = engine.store.papers.get(ids=ids, include=["embeddings"])
    computed = engine.store.paper_vectors(ids)
    for pid, vector in zip(stored["ids"], stored["embeddings"], strict=True):
        assert np.allclose(computed[pid], vector, atol=1e-5)


def test_an_index_of_the_previous_layout_is_rebuilt_with_records(built: Path, tmp_path: Path) -> None:
    settings = library(built, tmp_path)
    path = Engine(settings, embedder=HashingEmbedder()).library.index_path
    conn = sqlite3.connect(path)
    conn.execute("UPDATE meta SET value = '2' WHERE key = 'version'")
    conn.execute("UPDATE title_rows SET record = ''")  # what a version-2 file cannot give
    conn.commit()
    conn.close()
    engine = Engine(settings, embedder=HashingEmbedder())
    ids = engine.lexical().paper_ids()
    assert engine.lexical().papers(ids) == engine.store.get_papers(ids)
