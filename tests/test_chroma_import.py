"""The quick `override` chromadb is imported with (assistant/chroma_import.py): still used by
chromadb, marking what `overrides` marks, and chromadb still works on top of it. Each check
runs in a fresh interpreter, since chromadb is imported once per process."""

import subprocess
import sys
import textwrap

import pytest

from assistant.chroma_import import marked


def fresh_python(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_chromadb_still_decorates_through_overrides() -> None:
    """If a chromadb upgrade stops using `overrides`, the replacement is dead code: this fails."""
    calls = fresh_python(
        """
        import assistant.chroma_import as quick
        calls = []
        original = quick.marked
        def counting(method=None, **checks):
            calls.append(method)
            return original(method, **checks)
        quick.marked = counting
        import overrides
        chromadb = quick.load_chromadb()
        assert overrides.override is counting
        from chromadb.api.segment import SegmentAPI
        from chromadb.api.client import Client
        assert Client.get_collection.__override__ is True
        print(len(calls))
        """
    )
    assert int(calls) > 100


def test_marked_keeps_what_overrides_records() -> None:
    def method() -> None: ...

    assert marked(method) is method and method.__override__ is True  # type: ignore[attr-defined]
    assert marked(check_signature=False) is marked  # the decorator-factory form


def test_enforce_overrides_accepts_marked_methods() -> None:
    """chromadb's EnforceOverrides bases reject an overriding method without the marker."""
    from overrides import EnforceOverrides

    class Base(EnforceOverrides):
        def run(self) -> int:
            return 1

    class Child(Base):
        @marked
        def run(self) -> int:
            return 2

    assert Child().run() == 2
    with pytest.raises(TypeError):

        class Unmarked(Base):
            def run(self) -> int:
                return 3


def test_embedded_chroma_works_after_the_quick_import(tmp_path) -> None:  # type: ignore[no-untyped-def]
    found = fresh_python(
        f"""
        from assistant.chroma_import import load_chromadb
        chromadb = load_chromadb()
        from chromadb.config import Settings
        client = chromadb.PersistentClient(path={str(tmp_path)!r}, settings=Settings(anonymized_telemetry=False))
        collection = client.create_collection("papers", metadata={{"hnsw:space": "cosine"}}, embedding_function=None)
        collection.add(ids=["a", "b"], embeddings=[[1.0, 0.0], [0.0, 1.0]], documents=["x", "y"])
        print(collection.query(query_embeddings=[[0.9, 0.1]], n_results=1)["ids"][0][0])
        """
    )
    assert found == "a"
