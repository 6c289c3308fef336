"""Export: BibTeX, RIS and CSL-JSON that read back through import unchanged."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import bibtexparser
import pytest
import rispy
from typer.testing import CliRunner

from assistant.engine import Engine
from assistant.exports import FORMATS
from assistant.models import Paper
from assistant.settings import Settings
from connectors.cli import app
from tests.fakes import HashingEmbedder

IMPORTS = Path(__file__).parent / "data" / "imports"
SUFFIX = {"bibtex": ".bib", "ris": ".ris", "csljson": ".json"}
OWN_SAMPLES = {
    "bibtex": sorted(IMPORTS.glob("*.bib")),
    "ris": sorted(IMPORTS.glob("*.ris")),
    "csljson": sorted(IMPORTS.glob("*csl_json*.json")),
}
SAME_WORKS = [IMPORTS / "zotero_bibtex_nlp_arxiv_techreport_first20.bib", IMPORTS / "arxiv_oai_same_works.jsonl"]
HOSTILE = [
    {"title": "Solving {Unbalanced Braces and 100% of $O(n^2)$ cases", "abstract": "Costs -- and ``quotes'' ?` !`."},
    {"title": "R&D at #1 with under_scores ~ and \\commands}", "abstract": "Uses \\emph{x}, $\\alpha_{1}$ and 5$."},
    {"title": "Éléments d'Ñúñez: «café» 東京", "abstract": "Accents, CJK: 東京.", "authors": ["Zoë O'Brien"]},
    {"title": "A Count Only", "abstract": "Only the count is known.", "author_count": 7, "date": "2021-02-03"},
    {"arxiv_id": "2105.00001", "title": "Arxiv Only", "abstract": "An arXiv id.", "date": "2021-05-01"},
    {"title": "A URL to Keep", "abstract": "Percent and underscore.", "url": "https://x.org/a_b%20c?d=1&e=~f#g"},
]


def engine_at(home: Path, embedder: HashingEmbedder | None = None) -> Engine:
    return Engine(Settings(home=home), embedder=embedder or HashingEmbedder())


def library(engine: Engine) -> dict[str, Paper]:
    return {paper.id: paper for paper in engine.store.all_papers()}


def write_export(engine: Engine, fmt: str, path: Path) -> Path:
    text, count = engine.export(fmt)
    assert count == engine.store.counts()[0]
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("fmt", FORMATS)
def test_import_of_an_export_of_a_library_changes_nothing(fmt: str, tmp_path: Path) -> None:
    embedder = HashingEmbedder()
    engine = engine_at(tmp_path / "home", embedder)
    engine.ingest(OWN_SAMPLES[fmt])
    before, embedded = library(engine), embedder.texts_embedded
    exported = write_export(engine, fmt, tmp_path / f"export{SUFFIX[fmt]}")
    report, _ = engine.ingest([exported])
    assert (report.added, report.updated, report.unchanged, report.skipped_count) == (0, 0, len(before), 0)
    assert library(engine) == before and embedder.texts_embedded == embedded


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_export_carries_every_field_into_a_fresh_library(fmt: str, tmp_path: Path) -> None:
    source = tmp_path / "hostile.jsonl"
    source.write_text("\n".join(json.dumps(record, ensure_ascii=False) for record in HOSTILE))
    mixed = engine_at(tmp_path / "mixed")
    mixed.ingest([source, *SAME_WORKS])
    exported = write_export(mixed, fmt, tmp_path / f"export{SUFFIX[fmt]}")
    fresh = engine_at(tmp_path / "fresh")
    report, _ = fresh.ingest([exported])
    assert (report.added, report.skipped_count) == (len(library(mixed)), 0)
    fmt_source = {"bibtex": "bibtex", "ris": "ris", "csljson": "csl-json"}[fmt]
    expected = {pid: replace(paper, sources=(fmt_source,)) for pid, paper in library(mixed).items()}
    assert library(fresh) == expected


def test_exported_bibtex_parses_in_bibtexparser_with_identifiers(tmp_path: Path) -> None:
    engine = engine_at(tmp_path / "home")
    engine.ingest([IMPORTS / "zotero_bibtex_nlp_arxiv_techreport_first20.bib", IMPORTS / "arxiv_oai_same_works.jsonl"])
    parsed = bibtexparser.parse_string(engine.export("bibtex")[0])
    assert len(parsed.entries) == 20 and not parsed.failed_blocks
    vitamin_c = next(e for e in parsed.entries if e.fields_dict.get("eprint") and e["eprint"] == "2103.08541")
    assert vitamin_c["doi"] == "10.18653/v1/2021.naacl-main.52" and vitamin_c["archiveprefix"] == "arXiv"
    records = rispy.loads(engine.export("ris")[0])
    assert len(records) == 20 and all(r["title"] and r["abstract"] for r in records)


def test_a_second_import_of_the_same_export_into_a_mixed_library_embeds_nothing(tmp_path: Path) -> None:
    embedder = HashingEmbedder()
    engine = engine_at(tmp_path / "home", embedder)
    engine.ingest([IMPORTS / "zotero_bibtex_nlp_arxiv_techreport_first20.bib", IMPORTS / "arxiv_oai_same_works.jsonl"])
    before, embedded = library(engine), embedder.texts_embedded
    report, _ = engine.ingest([write_export(engine, "ris", tmp_path / "x.ris")])
    assert report.added == 0 and embedder.texts_embedded == embedded  # only the new source is recorded
    after = library(engine)
    assert {pid: replace(p, sources=()) for pid, p in after.items()} == {
        pid: replace(p, sources=()) for pid, p in before.items()
    }
    assert all("ris" in p.sources for p in after.values())


# ---- the CLI, with the real model ------------------------------------------------------

runner = CliRunner()


@pytest.fixture(scope="module")
def cli_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("export-home")
    Engine(Settings(home=home)).ingest(
        [IMPORTS / "zotero_bibtex_nlp_arxiv_techreport_first20.bib", IMPORTS / "arxiv_oai_same_works.jsonl"]
    )
    return home


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, cli_home: Path) -> None:
    monkeypatch.setenv("PAPERBOT_HOME", str(cli_home))


def test_cli_paper_accepts_a_doi_and_shows_both_identifiers(cli_env: None) -> None:
    result = runner.invoke(app, ["paper", "https://doi.org/10.18653/v1/2021.NAACL-main.52"])
    assert result.exit_code == 0, result.output
    assert "id: 2103.08541" in result.stdout and "doi: 10.18653/v1/2021.naacl-main.52" in result.stdout
    result = runner.invoke(app, ["paper", "10.9999/nothing"])
    assert result.exit_code == 1 and result.stderr.count("\n") == 1 and "no paper" in result.stderr


def test_cli_export_by_ids_to_stdout_and_by_query_to_a_file(cli_env: None, tmp_path: Path) -> None:
    result = runner.invoke(app, ["export", "--format", "ris", "--ids", "2103.08541", "--ids", "10.1162/tacl_a_00453"])
    assert result.exit_code == 0, result.output
    assert [r["doi"] for r in rispy.loads(result.stdout)] == ["10.18653/v1/2021.naacl-main.52", "10.1162/tacl_a_00453"]
    out = tmp_path / "refs.json"
    query = ["-q", "fact verification of claims", "-k", "3"]
    result = runner.invoke(app, ["export", "-f", "csljson", *query, "-o", str(out)])
    assert result.exit_code == 0, result.output
    items = json.loads(out.read_text())
    assert len(items) == 3 and "wrote 3 papers" in result.stderr
    assert any("Fact" in item["title"] for item in items)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["export", "--ids", "10.9999/nothing"], "no paper"),
        (["export", "-o", "/nonexistent-dir/x.bib"], "cannot write"),
        (["export", "--format", "endnote"], "Invalid value"),
        (["export", "-q", "x", "--ids", "2103.08541"], "not both"),
    ],
)
def test_cli_export_errors_are_one_line(cli_env: None, args: list[str], message: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code in (1, 2) and message in result.stderr
    assert "Traceback" not in result.output and "unexpected" not in result.stderr


def test_cli_ingest_reports_entries_without_an_abstract_by_key(cli_env: None, tmp_path: Path) -> None:
    result = runner.invoke(app, ["ingest", str(IMPORTS / "zotero_csl_json_microbiome_13_items.json"), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["added"] == 12 and report["skipped"] == report["no_abstract"] == 1
    assert "items/LFXXJ8JZ" in report["skipped_reasons"][0] and "no abstract" in report["skipped_reasons"][0]
