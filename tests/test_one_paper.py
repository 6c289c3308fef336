"""One paper per work, whatever its sources: real embedded Chroma, the fake embedder."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import pytest

from assistant.engine import Engine, sample_library
from assistant.errors import PaperbotError
from assistant.merge import merge_papers
from assistant.models import Paper
from assistant.settings import Settings
from tests.fakes import HashingEmbedder

IMPORTS = Path(__file__).parent / "data" / "imports"
ZOTERO = IMPORTS / "zotero_bibtex_nlp_arxiv_techreport_first20.bib"
ARXIV = IMPORTS / "arxiv_oai_same_works.jsonl"
# title -> (arXiv id, publisher DOI) of the works in both files
BOTH = {
    "Get Your Vitamin C! Robust Fact Verification with Contrastive Evidence": (
        "2103.08541",
        "10.18653/v1/2021.naacl-main.52",
    ),
    "SummaC: Re-Visiting NLI-based Models for Inconsistency Detection in Summarization": (
        "2111.09525",
        "10.1162/tacl_a_00453",
    ),
    "COVID-Fact: Fact Extraction and Verification of Real-World Claims on COVID-19 Pandemic": (
        "2106.03794",
        "10.18653/v1/2021.acl-long.165",
    ),
    "Zero-shot Fact Verification by Claim Generation": ("2105.14682", "10.18653/v1/2021.acl-short.61"),
    "WebGPT: Browser-assisted question-answering with human feedback": ("2112.09332", "10.48550/arxiv.2112.09332"),
}


def engine_at(home: Path, embedder: HashingEmbedder | None = None) -> Engine:
    return Engine(Settings(home=home), embedder=embedder or HashingEmbedder())


@pytest.mark.parametrize("order", ["zotero first", "arxiv first", "one run"])
def test_a_zotero_export_and_the_arxiv_corpus_make_one_paper_per_work(order: str, tmp_path: Path) -> None:
    engine = engine_at(tmp_path / "home")
    runs = {"zotero first": [[ZOTERO], [ARXIV]], "arxiv first": [[ARXIV], [ZOTERO]], "one run": [[ZOTERO, ARXIV]]}
    for paths in runs[order]:
        engine.ingest(paths)
    papers = {paper.title: paper for paper in engine.store.all_papers()}
    assert len(papers) == 20  # the five arXiv records joined their Zotero copies
    for title, (arxiv, doi) in BOTH.items():
        paper = papers[title]
        assert (paper.id, paper.arxiv_id, paper.doi) == (arxiv, arxiv, doi)
        assert set(paper.sources) == {"bibtex", "arxiv-oai"}
        assert "cs.CL" in paper.categories
    assert engine.store.counts()[0] == 20


def test_any_identifier_finds_the_paper(tmp_path: Path) -> None:
    engine = engine_at(tmp_path / "home")
    engine.ingest([ZOTERO, ARXIV])
    for name in (
        "2103.08541",
        "2103.08541v2",
        "arXiv:2103.08541",
        "https://arxiv.org/abs/2103.08541v1",
        "10.18653/v1/2021.naacl-main.52",
        "https://doi.org/10.18653/V1/2021.NAACL-MAIN.52",
        "doi:10.18653/v1/2021.naacl-main.52",
    ):
        assert engine.paper(name).id == "2103.08541", name
    doi_only = next(p for p in engine.store.all_papers() if p.id.startswith("doi-"))
    assert engine.paper(doi_only.id) == engine.paper(doi_only.doi or "")
    with pytest.raises(PaperbotError, match="no paper"):
        engine.paper("10.9999/not-in-the-library")


def test_fifty_distinct_arxiv_ids_with_one_title_stay_fifty_papers(tmp_path: Path) -> None:
    lines = [
        json.dumps({"arxiv_id": f"2401.{n:05d}", "title": "Introduction", "abstract": f"Paper {n} on topic {n}."})
        for n in range(50)
    ]
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    first.write_text("\n".join(lines[:40]))
    second.write_text("\n".join(lines[40:]))
    engine = engine_at(tmp_path / "home")
    report, _ = engine.ingest([first])
    assert report.added == 40
    report, _ = engine.ingest([second])  # stored papers with the same title are not these
    assert (report.added, report.updated) == (10, 0)
    assert engine.store.counts()[0] == 50


def test_same_title_merges_only_within_a_year_and_without_conflicting_identifiers() -> None:
    def paper(pid: str, year: int, doi: str | None = None) -> Paper:
        return Paper(id=pid, title="Deep Learning", abstract=f"{pid} abstract", date=date(year, 1, 1), doi=doi)

    preprint, proceedings = paper("1512.00001", 2015), paper("t-x", 2016)
    assert len(merge_papers([preprint, proceedings])) == 1  # a year apart: the same work
    assert len(merge_papers([paper("1512.00001", 2015), paper("t-x", 2019)])) == 2
    two_dois = [paper("doi-a", 2015, "10.1/a"), paper("doi-b", 2015, "10.1/b")]
    assert len(merge_papers(two_dois)) == 2  # two publisher DOIs: two works


def test_the_richer_abstract_and_every_identifier_survive_a_merge(tmp_path: Path) -> None:
    short = {"title": "Sparse Mixtures", "abstract": "Short.", "doi": "10.5555/smx"}
    bib = tmp_path / "z.bib"
    bib.write_text(f"@article{{k, title={{{short['title']}}}, abstract={{Short.}}, doi={{{short['doi']}}}, year=2020}}")
    arxiv = tmp_path / "a.jsonl"
    arxiv.write_text(json.dumps({"arxiv_id": "2001.00001", "title": "Sparse mixtures", "abstract": "A longer one."}))
    engine = engine_at(tmp_path / "home")
    engine.ingest([bib])
    report, _ = engine.ingest([arxiv])
    assert (report.added, report.updated) == (0, 1)
    (paper,) = engine.store.all_papers()
    assert (paper.id, paper.doi, paper.abstract) == ("2001.00001", "10.5555/smx", "A longer one.")


def test_reimporting_an_updated_export_embeds_only_what_changed(tmp_path: Path) -> None:
    embedder = HashingEmbedder()
    engine = engine_at(tmp_path / "home", embedder)
    library = tmp_path / "library.bib"
    shutil.copyfile(ZOTERO, library)
    engine.ingest([library])
    assert embedder.texts_embedded > 20
    before = embedder.texts_embedded
    report, _ = engine.ingest([library])
    assert (report.unchanged, embedder.texts_embedded) == (20, before)  # unchanged: nothing embedded
    text = library.read_text(encoding="utf-8")
    edited = text.replace("Typical fact verification models", "Typical fact-checking models", 1)  # shorter
    library.write_text(edited.replace("Transforming {Question}", "Turning {Question}", 1))  # a new title
    report, _ = engine.ingest([library])
    assert (report.added, report.updated, report.unchanged) == (0, 2, 18)
    assert engine.paper("1809.02922").title.startswith("Turning Question Answering")
    vitamin_c = engine.paper("10.18653/v1/2021.naacl-main.52")
    chunks = [c for c in engine.store.chunk_rows([vitamin_c.id]) if "#" in c.key]
    assert "Typical fact-checking models" in vitamin_c.abstract
    # new texts: the one chunk holding the edited sentence, and every chunk of the retitled
    # paper (a chunk is embedded with its title); the 18 other papers cost nothing
    retitled = [c for c in engine.store.chunk_rows(["1809.02922"]) if "#" in c.key]
    assert len(chunks) == 3 and embedder.texts_embedded - before == 1 + len(retitled)


def test_a_better_biblatex_entry_and_the_bundled_daily_papers_copy_are_one_paper(tmp_path: Path) -> None:
    """The bundled sample (Daily Papers: no ids, no dates) and a Better BibLaTeX export share
    "Sparks of Artificial General Intelligence"."""
    daily = sample_library() / "003_e553c8e3ea06ad35.txt"
    engine = engine_at(tmp_path / "home")
    engine.ingest([IMPORTS / "better_biblatex_llm_arxiv_entries.bib"])
    report, _ = engine.ingest([daily])
    assert report.updated == 1
    sparks = engine.paper("arXiv:2303.12712")
    assert sparks.sources == ("bibtex", "daily-papers") and sparks.doi == "10.48550/arxiv.2303.12712"
    titles = [p.title.casefold() for p in engine.store.all_papers()]
    assert titles.count(sparks.title.casefold()) == 1
