"""Ingest into a real embedded Chroma, with the fake embedder so runs take milliseconds."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import pytest

from assistant.engine import Engine
from assistant.errors import PaperbotError
from assistant.models import Filters
from assistant.settings import Settings
from tests.fakes import HashingEmbedder

OCEAN = "\n".join(
    json.dumps(record)
    for record in (
        {"title": "Tide Pools", "abstract": "Anemones dominate tide pools. Crabs hide.", "date": "2021-03-04"},
        {
            "title": "Coral Bleaching",
            "abstract": "Coral reefs bleach under heat. Recovery is slow.",
            "date": "2019-05-01",
        },
        {
            "title": "Kelp at Night",
            "abstract": "Urchins graze kelp at night. Otters eat urchins.",
            "arxiv_id": "2001.00001",
        },
    )
)


@pytest.fixture
def ocean(tmp_path: Path) -> Path:
    path = tmp_path / "ocean.jsonl"
    path.write_text(OCEAN)
    return path


def chunk_ids(engine: Engine) -> list[str]:
    return list(engine.store.chunks.get(include=[])["ids"])


def test_ingest_then_reingest_changes_and_embeds_nothing(fake_engine: Engine, ocean: Path) -> None:
    report, _ = fake_engine.ingest([ocean])
    assert (report.added, report.updated, report.unchanged) == (3, 0, 0)
    before = sorted(chunk_ids(fake_engine))
    embedder = fake_engine.embedder
    assert isinstance(embedder, HashingEmbedder)
    calls = embedder.calls
    again, _ = fake_engine.ingest([ocean])
    assert (again.added, again.updated, again.unchanged) == (0, 0, 3)
    assert embedder.calls == calls
    assert sorted(chunk_ids(fake_engine)) == before
    assert fake_engine.store.counts() == (3, len(before))


def test_richer_copy_updates_without_reembedding_unchanged_text(
    fake_engine: Engine, ocean: Path, tmp_path: Path
) -> None:
    fake_engine.ingest([ocean])
    richer = tmp_path / "richer.jsonl"
    richer.write_text(
        '{"title": "tide pools", "abstract": "Short.", "authors": ["R. Carson"], "url": "https://x.org"}\n'
    )
    embedder = fake_engine.embedder
    assert isinstance(embedder, HashingEmbedder)
    texts_before = embedder.texts_embedded
    report, _ = fake_engine.ingest([richer])
    assert (report.added, report.updated) == (0, 1)
    assert embedder.texts_embedded == texts_before  # the stored abstract is longer, so its chunks stand
    (paper,) = [p for p in fake_engine.store.all_papers() if p.title == "Tide Pools"]
    assert paper.authors == ("R. Carson",) and paper.url == "https://x.org"
    assert paper.abstract.startswith("Anemones") and paper.sources == ("jsonl",)


def test_paper_getting_an_arxiv_id_is_rekeyed_not_duplicated(fake_engine: Engine, ocean: Path, tmp_path: Path) -> None:
    fake_engine.ingest([ocean])
    with_id = tmp_path / "ids.jsonl"
    with_id.write_text('{"title": "Coral Bleaching", "abstract": "Coral reefs bleach.", "arxiv_id": "1905.00002"}\n')
    fake_engine.ingest([with_id])
    papers = {p.title: p for p in fake_engine.store.all_papers()}
    assert len(papers) == 3 and papers["Coral Bleaching"].id == "1905.00002"
    assert all(cid.split("#")[0] in {p.id for p in papers.values()} for cid in chunk_ids(fake_engine))


def test_interrupted_ingest_completes_on_rerun_without_duplicates(tmp_path: Path, data: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    source = data / "arxiv-metadata-oai-2000.jsonl"
    lines = source.read_text().splitlines()[:300]
    library = tmp_path / "part.jsonl"
    library.write_text("\n".join(lines) + "\n")
    dying = Engine(settings, embedder=HashingEmbedder(fail_after=1))
    with pytest.raises(RuntimeError, match="simulated"):
        dying.ingest([library])
    assert 0 < dying.store.counts()[0] < 300  # the first batch landed, the rest did not
    engine = Engine(settings, embedder=HashingEmbedder())
    report, _ = engine.ingest([library])
    assert report.added + report.unchanged == 300 and report.added < 300
    ids = chunk_ids(engine)
    assert len(ids) == len(set(ids)) == engine.store.counts()[1]
    assert {cid.split("#")[0] for cid in ids} == {p.id for p in engine.store.all_papers()}


def test_an_unreadable_file_stops_the_run_before_anything_is_written(
    fake_engine: Engine, ocean: Path, tmp_path: Path
) -> None:
    fake_engine.ingest([ocean])
    before = fake_engine.store.counts()
    good = tmp_path / "good.jsonl"
    good.write_text('{"title": "New", "abstract": "Fine."}\n')
    binary = tmp_path / "binary.jsonl"
    binary.write_bytes(b"\x00\x01\x02")
    with pytest.raises(PaperbotError, match=r"binary\.jsonl: binary file"):
        fake_engine.ingest([good, binary])
    assert fake_engine.store.counts() == before


def test_bad_lines_are_rejected_and_stored_papers_untouched(fake_engine: Engine, ocean: Path, tmp_path: Path) -> None:
    fake_engine.ingest([ocean])
    before = {p.id: p for p in fake_engine.store.all_papers()}
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"title": "New", "abstract": "Fine."}\n{"title": \n[1, 2]\n')
    report, _ = fake_engine.ingest([bad])
    assert (report.added, report.skipped_count) == (1, 2)
    assert [r.split(": ")[0] for r in report.skipped] == ["bad.jsonl:2", "bad.jsonl:3"]
    after = {p.id: p for p in fake_engine.store.all_papers()}
    assert {pid: after[pid] for pid in before} == before and len(after) == len(before) + 1


def test_duplicates_across_stream_batches_merge_into_one_paper(
    fake_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import assistant.engine

    monkeypatch.setattr(assistant.engine, "STREAM_BATCH", 2)  # the copies land in different batches
    rows = [{"id": f"2301.0000{i}", "title": f"Paper {i}", "abstract": f"Text {i}."} for i in range(5)]
    rows.append({"id": "2301.00001", "title": "Paper 1", "abstract": "Text 1.", "authors": "Ada Lovelace"})
    (tmp_path / "dupes.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    report, _ = fake_engine.ingest([tmp_path / "dupes.jsonl"])
    assert (report.added, report.updated) == (5, 1)
    ids = chunk_ids(fake_engine)
    assert fake_engine.store.counts() == (5, len(ids)) and len(ids) == len(set(ids))
    assert fake_engine.paper("2301.00001").authors == ("Ada Lovelace",)


def test_library_survives_reopening(tmp_path: Path, ocean: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    Engine(settings, embedder=HashingEmbedder()).ingest([ocean])
    reopened = Engine(settings, embedder=HashingEmbedder())
    assert reopened.store.counts()[0] == 3
    assert reopened.paper("2001.00001").title == "Kelp at Night"


def test_a_library_refuses_vectors_of_another_model(tmp_path: Path, ocean: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    Engine(settings, embedder=HashingEmbedder()).ingest([ocean])
    other = HashingEmbedder()
    other.name = "another-model"
    with pytest.raises(PaperbotError, match="embedded with fake-hashing"):
        Engine(settings, embedder=other).store  # noqa: B018


def test_filters_are_pushed_down_to_chroma(fake_engine: Engine, ocean: Path, data: Path) -> None:
    fake_engine.ingest([ocean, data / "plain.csv"])
    since = fake_engine.search("reefs tide pools kelp", k=10, filters=Filters(since=date(2020, 1, 1)))
    assert [r.paper.title for r in since] == ["Tide Pools"]
    until = fake_engine.search("reefs tide pools kelp", k=10, filters=Filters(until=date(2020, 1, 1)))
    assert {r.paper.title for r in until} == {"Coral Bleaching", "Kelp Forests at Night"}
    by_source = fake_engine.search("kelp", k=10, filters=Filters(input_format="csv"))
    assert [r.paper.title for r in by_source] == ["Kelp Forests at Night"]


def test_search_returns_each_paper_once(fake_engine: Engine, data: Path, tmp_path: Path) -> None:
    long = tmp_path / "long.jsonl"
    abstract = " ".join(f"Sentence {i} about glaciers and ice sheets melting." for i in range(60))
    long.write_text(f'{{"title": "Glaciers", "abstract": "{abstract}"}}\n')
    fake_engine.ingest([long, data / "plain.jsonl"])
    results = fake_engine.search("glaciers ice sheets", k=5)
    assert [r.paper.title for r in results].count("Glaciers") == 1
    assert len(results[0].chunk_ids) > 1


def test_stats_by_source_and_year(fake_engine: Engine, ocean: Path, data: Path) -> None:
    fake_engine.ingest([ocean, data / "plain.csv"])
    stats = fake_engine.stats()
    assert stats.papers == 4 and stats.chunks >= 4
    assert stats.by_source == {"jsonl": 3, "csv": 1}
    assert stats.by_year == {"2019": 2, "2021": 1, "unknown": 1}


def test_missing_home_parent_is_created(tmp_path: Path, ocean: Path) -> None:
    home = tmp_path / "a" / "b" / "c"
    Engine(Settings(home=home), embedder=HashingEmbedder()).ingest([ocean])
    assert (home / "chroma").is_dir()
    shutil.rmtree(home)


def test_a_new_chunk_size_rechunks_on_the_next_ingest(tmp_path: Path) -> None:
    long = tmp_path / "long.jsonl"
    abstract = " ".join(f"Sentence {i} about glaciers and ice sheets melting in summer." for i in range(30))
    long.write_text(json.dumps({"title": "Glaciers", "abstract": abstract}))
    home = tmp_path / "home"
    coarse = Engine(Settings(home=home), embedder=HashingEmbedder())
    coarse.ingest([long])
    coarse_chunks = coarse.store.counts()[1]
    fine = Engine(Settings(home=home, chunking={"size": 64, "overlap": 8}), embedder=HashingEmbedder())
    report, _ = fine.ingest([long])
    assert (report.updated, report.unchanged) == (1, 0)
    assert fine.store.counts()[1] > coarse_chunks
    assert all(cid.startswith(fine.search("glaciers", k=1)[0].paper.id) for cid in chunk_ids(fine))
    again, _ = fine.ingest([long])
    assert (again.updated, again.unchanged) == (0, 1)


def test_the_same_paper_in_two_files_and_formats_is_stored_once(fake_engine: Engine, tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_text(
        json.dumps({"id": "2302.00001", "title": "Tidal Flats", "abstract": "Mud."}) + "\n"
    )
    (tmp_path / "b.csv").write_text('arxiv_id,title,abstract,authors\n2302.00001v2,"Tidal  flats",Mud.,"A. B"\n')
    report, _ = fake_engine.ingest([tmp_path / "a.jsonl", tmp_path / "b.csv"])
    assert report.added == 1 and fake_engine.store.counts()[0] == 1
    paper = fake_engine.paper("2302.00001")
    assert paper.authors == ("A. B",) and set(paper.sources) == {"jsonl", "csv"}
