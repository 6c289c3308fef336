"""The BM25 side against a real embedded Chroma: filters agree with the store, ingest and
delete keep both indexes in step, and a stale or missing index is rebuilt."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from assistant.engine import Engine
from assistant.errors import PaperbotError
from assistant.lexical import LexicalIndex, read_manifest, terms
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
        Filters(source="csv"),
        Filters(source="jsonl", since=date(2020, 1, 1)),
        Filters(source="arxiv-oai"),
    ],
)
def test_lexical_filters_select_what_chroma_selects(library: Engine, filters: Filters) -> None:
    chroma = {str(m["paper_id"]) for m in library.store.chunks.get(where=where_clause(filters))["metadatas"]}
    rows = library.lexical().chunks.main.rows
    allowed = rows.allowed(filters)
    assert allowed is not None
    assert {str(pid) for pid in rows.paper_ids[allowed]} == chroma


@pytest.mark.parametrize("mode", ["hybrid", "dense", "bm25"])
def test_every_mode_honours_filters(library: Engine, mode: str) -> None:
    everything = titles(library.search("kelp", k=10, mode=mode))
    assert {"Kelp Forests at Night", "Tide Pools"} <= everything
    recent = library.search("kelp", k=10, filters=Filters(since=date(2020, 1, 1)), mode=mode)
    assert recent and all(r.paper.date and r.paper.date >= date(2020, 1, 1) for r in recent)
    from_csv = library.search("kelp", k=10, filters=Filters(source="csv"), mode=mode)
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
    extra = tmp_path / "extra.jsonl"
    extra.write_text(json.dumps({"title": "Penguin Huddles", "abstract": "Emperor penguins huddle in winter."}))
    library.ingest([extra])
    assert "Penguin Huddles" in titles(library.search("penguins huddle", k=3, mode="bm25"))
    manifest = read_manifest(library.lexical_root)
    assert (manifest["papers"], manifest["chunks"]) == library.store.counts()
    assert not manifest.get("stale")


def test_an_index_marked_stale_is_rebuilt_on_open(library: Engine) -> None:
    generation = read_manifest(library.lexical_root)["generation"]
    LexicalIndex.mark_stale(library.lexical_root)  # what a run that died mid-write leaves
    reopened = Engine(library.settings, embedder=HashingEmbedder())
    assert reopened.search("hydrothermal", k=1, mode="bm25")[0].paper.title == "Deep Sea Vents"
    assert read_manifest(library.lexical_root)["generation"] != generation
    assert len(list(library.lexical_root.glob("gen-*"))) == 1


def test_a_library_without_a_lexical_index_gets_one(tmp_path: Path, library: Engine) -> None:
    settings = library.settings
    for path in sorted(library.lexical_root.rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    reopened = Engine(Settings(home=settings.home), embedder=HashingEmbedder())
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


def shore_records(count: int) -> list[dict[str, str]]:
    words = ["kelp", "urchin", "otter", "coral", "tide", "reef", "plankton", "current", "sand", "crab", "gull"]
    return [
        {"id": f"2303.{n:05d}", "title": f"Shore study {n} {words[n % 11]}",
         "abstract": f"{words[n % 11]} and {words[(n * 3) % 11]} near {words[(n * 7) % 11]} shores, sample {n}."}
        for n in range(count)
    ]  # fmt: skip


@pytest.fixture
def shore(tmp_path: Path, fake_engine: Engine) -> Engine:
    path = tmp_path / "shore.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in shore_records(60)))
    fake_engine.ingest([path])
    return fake_engine


def ingest_rows(engine: Engine, tmp_path: Path, rows: list[dict[str, str]], name: str = "more.jsonl") -> None:
    (tmp_path / name).write_text("\n".join(json.dumps(r) for r in rows))
    engine.ingest([tmp_path / name])


def bm25_ranking(engine: Engine, query: str) -> list[tuple[str, float]]:
    return [(hit.key, hit.score) for hit in engine.lexical().chunks.top(terms(query), 10, Filters())]


def test_a_small_change_goes_to_the_delta_and_ranks_as_a_full_rebuild_does(shore: Engine, tmp_path: Path) -> None:
    generation = read_manifest(shore.lexical_root)["generation"]
    new = {"id": "2303.09999", "title": "Walrus tusks", "abstract": "Walrus haul out near kelp and otter shores."}
    longer = "Narwhal sightings near reef shores, counted from boats over many seasons."  # the longer abstract wins
    changed = {"id": "2303.00004", "title": "Shore study 4 reef", "abstract": longer}
    ingest_rows(shore, tmp_path, [new, changed])
    manifest = read_manifest(shore.lexical_root)
    assert manifest["generation"] == generation and manifest["delta"]  # no full rebuild
    assert (manifest["papers"], manifest["chunks"]) == shore.store.counts()
    assert [r.paper.id for r in shore.search("walrus", k=1, mode="bm25")] == ["2303.09999"]
    assert [r.paper.id for r in shore.search("narwhal", k=1, mode="bm25")] == ["2303.00004"]
    assert "2303.00004" not in {r.paper.id for r in shore.search("sample", k=60, mode="bm25")}  # old text gone
    queries = ["walrus kelp otter", "reef shores", "kelp urchin", "narwhal reef", "plankton sand"]
    with_delta = {q: bm25_ranking(shore, q) for q in queries}
    shore._lexical = LexicalIndex.rebuild(shore.lexical_root, shore.store)
    for query in queries:  # the delta's scores are on the main part's scale: same best hit, close scores
        rebuilt = bm25_ranking(shore, query)
        assert with_delta[query][0][0] == rebuilt[0][0], query
        for (_, ours), (_, full) in zip(with_delta[query][:5], rebuilt[:5], strict=True):
            assert ours == pytest.approx(full, rel=0.1), query


def test_the_delta_survives_reopening_and_deletes_reach_both_parts(shore: Engine, tmp_path: Path) -> None:
    ingest_rows(shore, tmp_path, [{"id": "2303.09998", "title": "Walrus tusks", "abstract": "Walrus haul out."}])
    shore.delete(["2303.09998", "2303.00001"])  # one from the delta, one from the main part
    reopened = Engine(shore.settings, embedder=HashingEmbedder())
    keys = reopened.lexical().titles.live_keys()
    assert "2303.09998" not in keys and "2303.00001" not in keys and len(keys) == 59
    assert reopened.search("walrus", k=3, mode="bm25") == []
    assert read_manifest(shore.lexical_root).get("delta")


def test_a_delta_beyond_its_share_is_merged_into_a_new_main_part(shore: Engine, tmp_path: Path) -> None:
    generation = read_manifest(shore.lexical_root)["generation"]
    ingest_rows(shore, tmp_path, [{"id": "2303.09997", "title": "Walrus", "abstract": "Walrus tusks."}], "one.jsonl")
    assert read_manifest(shore.lexical_root)["generation"] == generation
    many = [dict(r, id=f"2304.{n:05d}", title=f"Other {r['title']}") for n, r in enumerate(shore_records(20))]
    ingest_rows(shore, tmp_path, many, "many.jsonl")
    manifest = read_manifest(shore.lexical_root)
    assert manifest["generation"] != generation and not manifest.get("delta")
    assert sorted(p.name for p in shore.lexical_root.iterdir()) == sorted(["manifest.json", manifest["generation"]])
    assert len(shore.lexical().titles.live_keys()) == 81
