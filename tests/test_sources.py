from __future__ import annotations

import json
import tracemalloc
from datetime import date
from pathlib import Path

import pytest

from assistant.engine import sample_library
from assistant.errors import PaperbotError
from assistant.ingest import read_library
from assistant.sources import detect_format, file_format, parse_file, read_records


def titles(papers):
    return [p.title for p in papers]


def test_daily_papers_merge_to_211_unique_papers() -> None:
    papers, report = read_library([sample_library()], None)
    assert report.files == 4
    assert len(papers) == 211
    assert len(set(titles(papers))) == 211


def test_daily_papers_page_chrome_and_organisations_are_not_papers() -> None:
    papers, _ = read_library([sample_library()], None)
    names = {t.casefold() for t in titles(papers)}
    assert not names & {"subscribe", "daily papers", "new", "byak and the research community", "berkeley uc berkeley"}
    assert all(len(p.abstract) > 100 for p in papers)


def test_daily_papers_metadata_and_richest_copy_wins() -> None:
    papers = {p.title: p for p in read_library([sample_library()], None)[0]}
    # Listed with "6 authors · May 1, 2023" in one file and without metadata in others.
    measure = papers["Model-agnostic Measure of Generalization Difficulty"]
    assert measure.author_count == 6
    assert measure.date == date(2023, 5, 1)
    # "Dec 10, 2025 1": the trailing upvote count is not part of the date.
    weird = papers["Weird Generalization and Inductive Backdoors: New Ways to Corrupt LLMs"]
    assert weird.date == date(2025, 12, 10)
    assert measure.id.startswith("t-") and measure.sources == ("daily-papers",)


def test_arxiv_oai_records(data: Path) -> None:
    parsed = parse_file(data / "arxiv-metadata-oai-2000.jsonl")
    assert parsed.format == "arxiv-oai"
    assert len(parsed.papers) == 2000
    first = parsed.papers[0]
    assert first.id == "0704.0001"
    assert first.url == "https://arxiv.org/abs/0704.0001"
    assert first.date == date(2007, 4, 2)  # v1's "created", not update_date
    assert first.authors[:2] == ("C. Balázs", "E. L. Berger")
    assert first.categories == ("hep-ph",)
    assert "\n" not in first.title and "  " not in first.abstract


def test_abstracts_csv_has_993_unique_papers(data: Path) -> None:
    parsed = parse_file(data / "arxiv-abstracts-ml-1000.csv")
    assert len(parsed.papers) == 1000
    papers, _ = read_library([data / "arxiv-abstracts-ml-1000.csv"], None)
    assert len(papers) == 993
    assert papers[0].title == "Neural ODEs for Image Segmentation with Level Sets"
    assert papers[0].categories == ("cs.CV", "cs.LG", "eess.IV")


def test_whole_corpus_is_3204_papers(data: Path) -> None:
    paths = [sample_library(), data / "arxiv-abstracts-ml-1000.csv", data / "arxiv-metadata-oai-2000.jsonl"]
    papers, _ = read_library(paths, None)
    assert len(papers) == 3204


def test_plain_jsonl_schema(data: Path) -> None:
    parsed = parse_file(data / "plain.jsonl")
    assert parsed.format == "jsonl"
    tide, coral = parsed.papers
    assert tide.authors == ("Ada Lovelace", "Alan Turing")
    assert tide.date == date(2021, 3, 4) and tide.url == "https://example.org/tide"
    assert coral.id == "2101.00001" and coral.url == "https://arxiv.org/abs/2101.00001"
    assert parsed.skipped == ["plain.jsonl:3: no title"]


def test_plain_csv_schema(data: Path) -> None:
    parsed = parse_file(data / "plain.csv")
    (kelp,) = parsed.papers
    assert kelp.authors == ("Rachel Carson", "Sylvia Earle")
    assert kelp.categories == ("q-bio.PE",)
    assert len(parsed.skipped) == 1 and "no abstract" in parsed.skipped[0]


def test_format_override_and_detection(tmp_path: Path, data: Path) -> None:
    copy = tmp_path / "library.txt"
    copy.write_text((data / "plain.csv").read_text())
    assert detect_format(copy) == "csv"
    assert len(parse_file(copy, "csv").papers) == 1


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.jsonl", b"", "file is empty"),
        ("blank.csv", b"\n\n  \n", "file is empty"),
        ("empty.txt", b"", "file is empty"),
        ("binary.txt", b"\x7fELF\x02\x01\x00\x00", "binary file"),
        ("binary.jsonl", b"\x89PNG\r\n\x1a\n\x00\x00\x00", "binary file"),
        ("notes.txt", b"just some notes\nnothing like a paper list\n", "unknown format"),
        ("columns.csv", b"name,text\nx,y\n", "needs a title and an abstract column"),
    ],
)
def test_bad_files_raise_one_clear_error(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(PaperbotError, match=message):
        parse_file(path)


GOOD = b'{"title": "Good", "abstract": "b"}\n'
HUGE = b'{"title": "t", "abstract": "' + b"x" * 10_000_000 + b'"}\n'


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("latin1.csv", "title,abstract\nCaf\xe9,x\nGood,fine\n".encode("latin-1"), "latin1.csv:2: not UTF-8"),
        ("broken.jsonl", GOOD + b'{"title": oops}\n', "broken.jsonl:2: malformed JSON"),
        ("list.jsonl", GOOD + b'["not", "an", "object"]\n', "list.jsonl:2: expected a JSON object"),
        ("bytes.jsonl", GOOD + b'{"title": "\xff\xfe"}\n', "bytes.jsonl:2: not UTF-8"),
        ("huge.jsonl", GOOD + HUGE, "huge.jsonl:2: line of 10,000,031 bytes"),
    ],
)
def test_bad_lines_are_rejected_with_their_line_number_and_the_rest_is_read(
    tmp_path: Path, name: str, content: bytes, reason: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    parsed = parse_file(path)
    assert [p.title for p in parsed.papers] == ["Good"]
    assert len(parsed.skipped) == 1 and parsed.skipped[0].startswith(reason)


def test_missing_path_and_unknown_format_name(tmp_path: Path, data: Path) -> None:
    with pytest.raises(PaperbotError, match="no such file"):
        read_library([tmp_path / "nowhere.csv"], None)
    with pytest.raises(PaperbotError, match="unknown format 'xml'"):
        parse_file(data / "plain.csv", "xml")


def test_folders_skip_unsupported_files_with_a_reason(tmp_path: Path, data: Path) -> None:
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "plain.csv").write_text((data / "plain.csv").read_text())
    (tmp_path / "lib" / "figure.png").write_bytes(b"\x89PNG")
    papers, report = read_library([tmp_path / "lib"], None)
    assert titles(papers) == ["Kelp Forests at Night"]
    assert any("figure.png: unsupported extension" in reason for reason in report.skipped)


def test_a_100_mb_file_streams_in_flat_memory_and_names_its_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    # ~100 KB a line (a 10 KB abstract, a 90 KB field no paper keeps), 1,000 lines: tracemalloc's
    # cost is per allocation, so few long lines keep the traced run quick; a reader that held
    # the file would still hold 20 times the bound.
    abstract, comments = "Streaming keeps memory flat. " * 350, "Not kept. " * 9_000
    bad_line = 500
    with path.open("w") as handle:
        for n in range(1, 1_001):
            paper = {"title": f"P {n}", "abstract": abstract, "comments": comments}
            row = '{"title": "broken' if n == bad_line else json.dumps(paper)
            handle.write(row + "\n")
    assert path.stat().st_size > 100_000_000
    tracemalloc.start()
    try:
        papers, skipped = 0, []
        for record in read_records(path, file_format(path)):
            if isinstance(record, str):
                skipped.append(record)
            else:
                papers += 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert papers == 999 and [r.split(": ")[0] for r in skipped] == [f"big.jsonl:{bad_line}"]
    assert peak < 5_000_000  # bytes: a few lines' worth, not the file's 100 MB


def test_control_characters_never_reach_a_paper(tmp_path: Path) -> None:
    path = tmp_path / "controls.jsonl"
    row = {"title": "Bell\x07 and \x1b[31mred\x1b[0m", "abstract": "Clear\x00 the screen\x1b[2J\x9b now.\tTabbed."}
    path.write_text(json.dumps(row) + "\n")
    [paper] = parse_file(path).papers
    assert paper.title == "Bell and [31mred[0m" and paper.abstract == "Clear the screen[2J now. Tabbed."
    assert not any(ord(c) < 32 or 127 <= ord(c) < 160 for c in paper.title + paper.abstract)
