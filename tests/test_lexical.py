"""The keyword (FTS5) side against a real embedded Chroma: filters agree with the store, ingest
and delete keep both indexes in step, and a stale, missing or damaged index is rebuilt."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from assistant.engine import Engine
from assistant.errors import PaperbotError
from assistant.lexical import terms
from assistant.library import peek_revision
from assistant.models import Filters
from assistant.settings import Settings
from assistant.store import where_clause
from tests.fakes import HashingEmbedder

RECORDS = [
    {"title": "Kelp Forests at Night", "abstract": "Urchins graze kelp at night.", "date": "2019-02-01"},
    {"title": "Coral Bleaching", "abstract": "Coral reefs bleach under heat; kelp shades them.", "date": "2020-06-01"},
    {"title": "Tide Pools", "abstract": "Anemones and kelp fragments fill tide pools.", "date": "2022-09-09"},
    {"title": "Deep Sea Vents", "abstract": "Tube worms live by hydrothermal vents."},
]


@pytest.fixture
def library(tmp_path: Path, fake_engine: Engine, data: Path) -> Engine:
    path = tmp_path / "sea.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in RECORDS))
    fake_engine.ingest([path, data / "plain.csv"])
    return fake_engine


def titles(results: list) -> set[str]:
    return {r.paper.title for r in results}


def test_terms_stem_and_drop_stop_words() -> None:
    assert terms("The Generalization of transformers") == terms("generalizations transformer")
    assert "the" not in terms("the of and")


@pytest.mark.parametrize(
    "filters",
    [
        Filters(since=date(2020, 1, 1)),
        Filters(until=date(2020, 12, 31)),
        Filters(since=date(2019, 6, 1), until=date(2021, 1, 1)),
        Filters(input_format="csv"),
        Filters(input_format="jsonl", since=date(2020, 1, 1)),
        Filters(input_format="arxiv-oai"),
    ],
)
def test_lexical_filters_select_what_chroma_selects(library: Engine, filters: Filters) -> None:
    chroma = {str(m["paper_id"]) for m in library.store.chunks.get(where=where_clause(filters))["metadatas"]}
    # every chunk holds "kelp" or a word of its paper's own text; query all the words there are
    words = sorted({t for row in library.store.chunk_rows() for t in terms(row.text)})
    hits = library.lexical().chunks.top(words, 1000, filters)
    assert {hit.paper_id for hit in hits} == chroma


@pytest.mark.parametrize("mode", ["hybrid", "dense", "bm25"])
def test_every_mode_honours_filters(library: Engine, mode: str) -> None:
    everything = titles(library.search("kelp", k=10, mode=mode))
    assert {"Kelp Forests at Night", "Tide Pools"} <= everything
    recent = library.search("kelp", k=10, filters=Filters(since=date(2020, 1, 1)), mode=mode)
    assert recent and all(r.paper.date and r.paper.date >= date(2020, 1, 1) for r in recent)
    from_csv = library.search("kelp", k=10, filters=Filters(input_format="csv"), mode=mode)
    assert all("csv" in r.paper.sources for r in from_csv)


def test_bm25_finds_a_rare_word_and_gives_similarity(library: Engine) -> None:
    results = library.search("hydrothermal", k=3, mode="bm25")
    assert results[0].paper.title == "Deep Sea Vents"
    assert results[0].similarity > 0
    assert results[0].chunk_ids and results[0].chunk_ids[0].startswith(results[0].paper.id)


def test_delete_removes_a_paper_from_both_indexes_and_from_disk(library: Engine) -> None:
    victim = library.search("hydrothermal", k=1, mode="bm25")[0].paper
    papers, chunks = library.store.counts()
    removed = library.delete([victim.id])
    assert [p.id for p in removed] == [victim.id]
    assert library.store.counts()[0] == papers - 1 and library.store.counts()[1] < chunks
    assert not library.store.chunks.get(where={"paper_id": victim.id})["ids"]
    assert victim.id not in {key.split("#")[0] for key in library.lexical().chunks.live_keys()}
    assert victim.id not in set(library.lexical().titles.live_keys())
    for mode in ("bm25", "dense", "hybrid"):
        assert "Deep Sea Vents" not in titles(library.search("hydrothermal vents tube worms", k=10, mode=mode))
    reopened = Engine(library.settings, embedder=HashingEmbedder())
    assert victim.id not in {key.split("#")[0] for key in reopened.lexical().chunks.live_keys()}


def test_delete_of_an_unknown_id_removes_nothing(library: Engine) -> None:
    known = library.search("kelp", k=1)[0].paper.id
    before = library.store.counts()
    with pytest.raises(PaperbotError, match="no paper with id 'nope'"):
        library.delete([known, "nope"])
    assert library.store.counts() == before


def test_ingest_keeps_the_lexical_index_in_step(library: Engine, tmp_path: Path) -> None:
    assert len(library.lexical().titles) == library.store.counts()[0]
    revision = library.lexical().revision
    extra = tmp_path / "extra.jsonl"
    extra.write_text(json.dumps({"title": "Penguin Huddles", "abstract": "Emperor penguins huddle in winter."}))
    library.ingest([extra])
    assert "Penguin Huddles" in titles(library.search("penguins huddle", k=3, mode="bm25"))
    meta = peek_revision(library.library.index_path)
    assert meta is not None and (int(meta["papers"]), int(meta["chunks"])) == library.store.counts()
    assert meta["writing"] == "0" and int(meta["revision"]) == revision + 1


def test_an_index_left_writing_by_a_dead_writer_is_rebuilt_on_open(library: Engine) -> None:
    library.lexical().begin_write()  # what a run that died mid-write leaves
    library.lexical().close()
    inode = library.library.index_path.stat().st_ino
    reopened = Engine(library.settings, embedder=HashingEmbedder())
    assert reopened.search("hydrothermal", k=1, mode="bm25")[0].paper.title == "Deep Sea Vents"
    assert library.library.index_path.stat().st_ino != inode  # a new file, swapped in
    meta = peek_revision(library.library.index_path)
    assert meta is not None and meta["writing"] == "0"
    assert sorted(library.library.index_path.parent.iterdir()) == [library.library.index_path]  # no temp files


@pytest.mark.parametrize("damage", ["missing", "truncated", "garbage", "empty"])
def test_a_missing_or_damaged_index_repairs_itself(library: Engine, damage: str) -> None:
    path = library.library.index_path
    library.lexical().close()
    if damage == "missing":
        path.unlink()
    elif damage == "truncated":
        with path.open("r+b") as handle:
            handle.truncate(path.stat().st_size // 2)
    else:
        path.write_bytes(b"" if damage == "empty" else b"not a database at all" * 100)
    reopened = Engine(Settings(home=library.settings.home), embedder=HashingEmbedder())
    assert reopened.search("hydrothermal", k=1, mode="bm25")[0].paper.title == "Deep Sea Vents"
    assert len(reopened.lexical().titles) == reopened.store.counts()[0]


def test_an_index_out_of_step_with_the_store_is_rebuilt(library: Engine) -> None:
    index = library.lexical()
    index.commit_changes([], [], {library.search("hydrothermal", k=1, mode="bm25")[0].paper.id}, None)
    index.close()  # the index lost a paper the store still has
    reopened = Engine(library.settings, embedder=HashingEmbedder())
    assert reopened.search("hydrothermal", k=1, mode="bm25")[0].paper.title == "Deep Sea Vents"


def test_empty_library_searches_to_nothing(fake_engine: Engine) -> None:
    for mode in ("hybrid", "dense", "bm25"):
        assert fake_engine.search("anything at all", k=3, mode=mode) == []


OTTERS = [
    {"title": "Sea Otter Foraging", "abstract": "We tag animals along the coast. Dives last minutes. Prey: urchins."},
    {
        "title": "Coastal Notes",
        "abstract": "A sea survey of the coast. Otters were seen once. Foraging birds were counted at the sea edge.",
    },
    {"title": "Harbour Seals", "abstract": "Seals haul out on rocks. Pups are born in spring."},
]


def otter_library(tmp_path: Path, title_weight: float) -> Engine:
    path = tmp_path / "otters.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in OTTERS))
    settings = Settings(home=tmp_path / f"home-{title_weight}", retrieval={"title_weight": title_weight})
    engine = Engine(settings, embedder=HashingEmbedder())
    engine.ingest([path])
    return engine


def test_a_title_match_counts_without_drowning_the_abstracts(tmp_path: Path) -> None:
    query = "sea otter foraging"
    # Chunk texts exclude titles, so only the title ranking can find a paper by its title alone.
    assert titles(otter_library(tmp_path, 0.0).search(query, k=3, mode="bm25")) == {"Coastal Notes"}
    default = Settings().retrieval.title_weight
    ranked = [r.paper.title for r in otter_library(tmp_path, default).search(query, k=3, mode="bm25")]
    assert ranked == ["Coastal Notes", "Sea Otter Foraging"]  # found, but the abstract match still leads
    heavy = [r.paper.title for r in otter_library(tmp_path, 2.0).search(query, k=3, mode="bm25")]
    assert heavy[0] == "Sea Otter Foraging"  # the setting really moves the balance


def test_fts_scores_rank_a_rare_word_above_a_common_one(tmp_path: Path, fake_engine: Engine) -> None:
    rows = [{"title": f"Shore {n}", "abstract": f"kelp shore sand note {n}"} for n in range(30)]
    rows.append({"title": "Walrus", "abstract": "walrus kelp"})
    (tmp_path / "shore.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    fake_engine.ingest([tmp_path / "shore.jsonl"])
    hits = fake_engine.lexical().chunks.top(terms("walrus kelp"), 5, Filters())
    assert hits[0].paper_id == fake_engine.search("walrus", k=1, mode="bm25")[0].paper.id
    assert hits[0].score > hits[1].score > 0


def test_a_deleted_paper_leaves_no_rows_and_a_rekeyed_one_no_old_rows(fake_engine: Engine, tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_text(json.dumps({"title": "Walrus tusks", "abstract": "Walrus haul out."}))
    fake_engine.ingest([tmp_path / "a.jsonl"])
    (tmp_path / "b.jsonl").write_text(
        json.dumps({"id": "2303.09998", "title": "Walrus tusks", "abstract": "Walrus haul out."})
    )
    fake_engine.ingest([tmp_path / "b.jsonl"])
    assert fake_engine.lexical().titles.live_keys() == ["2303.09998"]
    assert {k.split("#")[0] for k in fake_engine.lexical().chunks.live_keys()} == {"2303.09998"}
    fake_engine.delete(["2303.09998"])
    assert fake_engine.lexical().titles.live_keys() == [] and fake_engine.lexical().chunks.live_keys() == []
    assert fake_engine.search("walrus", k=3, mode="bm25") == []
