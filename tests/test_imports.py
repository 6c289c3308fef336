"""Reference-manager imports on real exports (tests/data/imports, see its README)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from assistant.errors import PaperbotError
from assistant.sources import detect_format, parse_file

IMPORTS = Path(__file__).parent / "data" / "imports"

# file -> (format, papers with an abstract, keys of the entries without one)
EXPECTED = {
    "zotero_bibtex_ml_library_first25.bib": ("bibtex", 24, ["bello_attention_2019"]),
    "zotero_bibtex_nlp_arxiv_techreport_first20.bib": ("bibtex", 20, []),
    "zotero_bibtex_arxiv_misc_single_entry.bib": ("bibtex", 1, []),
    "zotero_bibtex_deepfake_scopus_first20.bib": ("bibtex", 20, []),
    "better_biblatex_llm_arxiv_entries.bib": ("bibtex", 22, []),
    "zotero_ris_deepfake_scopus_first20.ris": ("ris", 20, []),
    "zotero_csv_ml_library_first25.csv": (
        "zotero-csv",
        19,
        ["UWGZZ5T8", "HCKMHJ8W", "QYH9LAF7", "ES8WZY5Q", "94Q7XD2W", "5PPVC36J"],
    ),
    "zotero_csv_deepfake_scopus_first20.csv": ("zotero-csv", 20, []),
    "zotero_csl_json_microbiome_13_items.json": ("csl-json", 12, ["http://zotero.org/users/6749987/items/LFXXJ8JZ"]),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_sample_ingests_its_abstracts_and_reports_the_rest_by_key(name: str) -> None:
    fmt, count, missing = EXPECTED[name]
    parsed = parse_file(IMPORTS / name)
    assert parsed.format == fmt
    assert len(parsed.papers) == count
    assert len(parsed.skipped) == len(missing)
    for key, reason in zip(missing, parsed.skipped, strict=True):
        assert key in reason and reason.endswith("no abstract")
    assert all(p.title and p.abstract and p.sources == (fmt,) for p in parsed.papers)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_formats_are_detected_by_content_whatever_the_extension(name: str, tmp_path: Path) -> None:
    renamed = tmp_path / "library.txt"
    shutil.copyfile(IMPORTS / name, renamed)
    assert detect_format(renamed) == EXPECTED[name][0]


def by_title(name: str) -> dict[str, object]:
    return {paper.title: paper for paper in parse_file(IMPORTS / name).papers}


def test_latex_accents_braces_and_escapes_are_decoded() -> None:
    ml = by_title("zotero_bibtex_ml_library_first25.bib")
    assert "NeRF: Representing Scenes as Neural Radiance Fields for View Synthesis" in ml
    llm = parse_file(IMPORTS / "better_biblatex_llm_arxiv_entries.bib").papers
    assert llm[0].authors[0] == "Sébastien Bubeck"  # "Bubeck, Sébastien" -> first name first
    deepfake = parse_file(IMPORTS / "zotero_bibtex_deepfake_scopus_first20.bib").papers
    text = " ".join(p.abstract for p in deepfake)
    assert "%" in text and "\\%" not in text and "{" not in " ".join(p.title for p in deepfake)


@pytest.mark.parametrize(
    ("name", "title_start", "arxiv"),
    [
        ("zotero_bibtex_ml_library_first25.bib", "Video Super Resolution Based on Deep", "2007.12928"),  # journal=
        ("zotero_bibtex_nlp_arxiv_techreport_first20.bib", "Transforming Question Answering", "1809.02922"),  # number=
        ("zotero_bibtex_nlp_arxiv_techreport_first20.bib", "Teaching language models to support", "2203.11147"),
        ("zotero_bibtex_arxiv_misc_single_entry.bib", "The Devil is in the Details", "2306.06918"),  # note=
        ("better_biblatex_llm_arxiv_entries.bib", "LLaMA: Open and Efficient", "2302.13971"),  # eprint=
        ("zotero_csv_ml_library_first25.csv", "Pretraining Image Encoders", "2003.07441"),  # Publication Title
    ],
)
def test_arxiv_ids_are_found_wherever_zotero_put_them(name: str, title_start: str, arxiv: str) -> None:
    papers = [p for p in parse_file(IMPORTS / name).papers if p.title.startswith(title_start)]
    assert [p.id for p in papers] == [arxiv]
    assert papers[0].arxiv_id == arxiv


def test_the_three_deepfake_exports_agree_item_by_item() -> None:
    names = ("bib", "ris", "csv")
    exports = [parse_file(next(IMPORTS.glob(f"zotero_*deepfake*.{ext}"))).papers for ext in names]
    dois = [[p.doi for p in papers] for papers in exports]
    assert dois[0] == dois[1] == dois[2] and len(set(dois[0])) == 20 and all(dois[0])
    assert [p.id for p in exports[0]] == [p.id for p in exports[1]] == [p.id for p in exports[2]]
    assert [p.date.year for p in exports[0] if p.date] == [p.date.year for p in exports[1] if p.date]
    assert exports[0][0].authors[:2] == exports[1][0].authors[:2] == exports[2][0].authors[:2]


def test_dois_are_normalised_and_a_broken_one_is_ignored() -> None:
    ml = by_title("zotero_bibtex_ml_library_first25.bib")
    nerf = ml["NeRF: Representing Scenes as Neural Radiance Fields for View Synthesis"]
    assert nerf.doi == "10.1007/978-3-030-58452-8_24"  # the entry also has a bare "10.1007"
    csl = parse_file(IMPORTS / "zotero_csl_json_microbiome_13_items.json").papers
    assert all(p.doi and p.doi == p.doi.lower() and p.id.startswith("doi-") for p in csl)
    assert csl[0].date is not None and csl[0].date.year == 2024  # "date-parts" with a string year


@pytest.mark.parametrize(
    ("suffix", "text", "message"),
    [
        (".json", '[{"title": "x", "type": "article"', "not valid JSON"),
        (".json", '{"title": "x", "type": "article"}', None),  # one object: not CSL-JSON, read as JSON lines
        (".bib", "@article{broken,\n  title = {Unclosed\n", None),
    ],
)
def test_broken_files_fail_with_one_line_or_report_the_entry(
    suffix: str, text: str, message: str | None, tmp_path: Path
) -> None:
    path = tmp_path / f"broken{suffix}"
    path.write_text(text)
    if message:
        with pytest.raises(PaperbotError, match=message):
            parse_file(path)
    else:
        parsed = parse_file(path)
        assert parsed.papers == [] and len(parsed.skipped) == 1
