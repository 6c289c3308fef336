"""Hostile and careless files through `paperbot ingest`: each bad line is rejected with its
reason and the rest kept; nothing ingested from what was named is a failure; never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from connectors.cli import app

runner = CliRunner()
GOOD = {"title": "Kept Paper About Tide Pools", "abstract": "Tide pools hold many small animals."}
ABSTRACT = (
    "We study how tide pools shelter small animals between the tides, measuring {what} over "
    "two years on three coasts. The results show that shelter matters more than food supply."
)


def run(*args: str):
    return runner.invoke(app, list(args))


def titles() -> list[str]:
    result = run("search", "tide pools small animals", "-k", "20", "--json")
    assert result.exit_code == 0, result.output
    return [row["title"] for row in json.loads(result.stdout)["results"]]


def arxiv_line(authors_parsed: object) -> str:
    record = {
        "id": "2101.0000" + str(abs(hash(json.dumps(authors_parsed))) % 10),
        "submitter": "x",
        "authors": "A. Writer",
        "title": f"Arxiv Paper With Authors {json.dumps(authors_parsed)}",
        "abstract": "An abstract.",
        "update_date": "2021-01-01",
        "authors_parsed": authors_parsed,
    }
    return json.dumps(record)


def test_bad_json_lines_are_rejected_with_their_reason_and_the_rest_kept(tmp_path: Path) -> None:
    good = json.dumps({"id": "2101.00010", "submitter": "x", "update_date": "2021-01-01", **GOOD})
    good = good[:-1] + ', "authors_parsed": [["Writer", "Ann", ""]]}'
    bad = [
        "[" * 100_000 + "]" * 100_000,  # RecursionError in json
        '{"a": ' * 50_000 + "1" + "}" * 50_000,
        arxiv_line(["Smith", "John"]),
        arxiv_line(None),
        arxiv_line([[]]),
        arxiv_line([1, 2]),
        arxiv_line([[1, 2, 3]]),
        arxiv_line([None]),
    ]
    other = good.replace("00010", "00011").replace("Tide Pools", "Rock Pools")
    (tmp_path / "snapshot.jsonl").write_text("\n".join([good, *bad, other]) + "\n")
    result = run("ingest", str(tmp_path / "snapshot.jsonl"), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["added"], report["skipped"]) == (2, len(bad))
    reasons = report["skipped_reasons"]
    assert [r.split(":")[1] for r in reasons] == [str(n) for n in range(2, 2 + len(bad))]
    assert all("nested too deeply" in r for r in reasons[:2])
    assert all("authors_parsed" in r for r in reasons[2:])


HUGE_FILES = {
    "huge.jsonl": (json.dumps(GOOD) + "\n" + '{"title": "', json.dumps(GOOD | {"title": "After The Long Line"})),
    "huge.csv": ("title,abstract\nKept Paper,About tide pools.\n", "After The Long Line,About tide pools."),
}


@pytest.mark.parametrize("name", sorted(HUGE_FILES))
def test_a_huge_line_without_a_newline_is_rejected_in_bounded_memory(tmp_path: Path, name: str) -> None:
    head, after = HUGE_FILES[name]
    path = tmp_path / name
    path.write_text(head + "x" * 2**14)
    with path.open("r+b") as handle:  # a sparse file: 300 MB of one line, no disk used
        handle.truncate(300 * 2**20)
    with path.open("a") as handle:
        handle.write("\n" + after + "\n")
    out, err, peak = tmp_path / "stdout", tmp_path / "stderr", tmp_path / "peak"
    # The child's own high-water mark (VmHWM), written as it exits: rusage would count the
    # test process's memory too, copied into the child by fork.
    code = (
        "import atexit\n"
        f"atexit.register(lambda: open({str(peak)!r}, 'w').write("
        "next(line for line in open('/proc/self/status') if line.startswith('VmHWM')).split()[1]))\n"
        "from connectors.cli import main\nmain()\n"
    )
    with out.open("wb") as stdout, err.open("wb") as stderr:
        child = subprocess.run(
            [sys.executable, "-c", code, "ingest", str(path), "--json"],
            stdout=stdout,
            stderr=stderr,
            cwd=Path(__file__).parent.parent,
            timeout=600,
        )
    assert child.returncode == 0, err.read_text()
    report = json.loads(out.read_text())
    assert report["added"] == 2 and report["skipped"] == 1
    line = 3 if name.endswith(".csv") else 2  # the CSV's header is line 1
    assert report["skipped_reasons"][0].startswith(f"{name}:{line}: line of 314,572,")
    # Reading the line whole costs its size several times over (bytes, text, parser).
    assert int(peak.read_text()) < 700 * 1024, f"peak memory {peak.read_text()} KiB"


DAILY_PAGE = """New

Get trending papers in your email inbox!

Subscribe

Daily Papers

byAK and the research community

Aug 1

First Paper On Tide Pools

{first}

A Paper Listed Without Its Abstract

Third Paper On Tide Pools

{third}
"""


def test_daily_papers_page_without_an_abstract_or_with_odd_line_breaks(tmp_path: Path) -> None:
    first = ABSTRACT.format(what="crab counts")
    third = ABSTRACT.format(what="snail counts\fand\u2028algae\u2029cover\x85too")
    (tmp_path / "page.txt").write_text(DAILY_PAGE.format(first=first, third=third))
    result = run("ingest", str(tmp_path / "page.txt"), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["added"] == 2
    assert any("no abstract after 'A Paper Listed Without Its Abstract'" in r for r in report["skipped_reasons"])
    assert sorted(titles()) == ["First Paper On Tide Pools", "Third Paper On Tide Pools"]
    paper_id = json.loads(run("search", "snail counts algae cover", "-k", "1", "--json").stdout)["results"][0]
    abstract = json.loads(run("paper", paper_id["paper_id"], "--json").stdout)["abstract"]
    assert "snail counts and algae cover too" in abstract and abstract.endswith("food supply.")


def test_csv_with_a_byte_order_mark_is_read(tmp_path: Path, data: Path) -> None:
    (tmp_path / "excel.csv").write_bytes(b"\xef\xbb\xbf" + (data / "plain.csv").read_bytes())
    result = run("ingest", str(tmp_path / "excel.csv"), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["added"], report["skipped"]) == (1, 1)


def test_titles_without_any_search_term_leave_the_library_usable(tmp_path: Path) -> None:
    rows = [
        {"title": "深度学习的研究", "abstract": ABSTRACT.format(what="深度学习")},
        {"title": "The Of And", "abstract": ABSTRACT.format(what="nothing at all")},
    ]
    (tmp_path / "odd.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    result = run("ingest", str(tmp_path / "odd.jsonl"))
    assert result.exit_code == 0, result.output
    assert sorted(titles()) == ["The Of And", "深度学习的研究"]
    result = run("ask", "what shelters small animals in tide pools?")
    assert result.exit_code == 0, result.output


def test_notes_in_a_folder_are_not_papers(tmp_path: Path) -> None:
    folder = tmp_path / "lib"
    folder.mkdir()
    (folder / "papers.jsonl").write_text(json.dumps(GOOD) + "\n")
    (folder / "notes.txt").write_text(
        "Notes on the daily papers I read this week\n\n"
        "I should read more about tide pools and small animals, maybe next week when there is time.\n"
    )
    result = run("ingest", str(folder), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["added"] == 1
    assert any("notes.txt" in reason for reason in report["skipped_reasons"])
    assert titles() == [GOOD["title"]]


@pytest.mark.parametrize("name", ["empty-folder", "pictures", "/dev/zero", "rejected.jsonl"])
def test_nothing_ingested_from_what_was_named_is_a_failure(tmp_path: Path, name: str) -> None:
    (tmp_path / "empty-folder").mkdir()
    (tmp_path / "pictures").mkdir()
    (tmp_path / "pictures" / "figure.png").write_bytes(b"\x89PNG")
    (tmp_path / "rejected.jsonl").write_text('{"title": "no abstract"}\n{nope\n')
    result = run("ingest", name if name.startswith("/") else str(tmp_path / name))
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("error: ") and len(result.stderr.strip().splitlines()) == 1
    assert ("not a regular file" if name == "/dev/zero" else "no papers ingested") in result.stderr


def test_not_found_does_not_echo_terminal_escapes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "one.jsonl").write_text(json.dumps(GOOD) + "\n")
    assert run("ingest", str(tmp_path / "one.jsonl")).exit_code == 0
    result = run("ask", "\x1b]0;pwned\x07\x1b[2J quantum gravity of frogs \x9b31m")
    assert result.exit_code == 0, result.output
    assert "Not found" in result.stdout
    assert not any(ch in result.output for ch in "\x1b\x07\x9b")
