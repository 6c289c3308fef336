"""`summarize -o/--bib`: nothing overwritten without --force, one path for two outputs refused,
`-` is standard output, and a write that fails (a full disk) leaves no partial file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from connectors.cli import app

runner = CliRunner()
TOPIC = "length generalization in transformers"
ROOT = Path(__file__).parent.parent


@pytest.fixture
def sample_env(monkeypatch: pytest.MonkeyPatch, sample_home: Path) -> None:
    monkeypatch.setenv("PAPERBOT_HOME", str(sample_home))


def one_line_error(result) -> str:
    assert result.exit_code == 1, result.output
    assert len(result.stderr.strip().splitlines()) == 1 and "unexpected" not in result.stderr
    return result.stderr


def test_existing_files_are_kept_without_force(sample_env: None, tmp_path: Path) -> None:
    out, bib = tmp_path / "review.md", tmp_path / "refs.bib"
    out.write_text("my notes")
    error = one_line_error(runner.invoke(app, ["summarize", TOPIC, "-o", str(out), "--bib", str(bib)]))
    assert "exists; pass --force" in error
    assert out.read_text() == "my notes" and not bib.exists()
    result = runner.invoke(app, ["summarize", TOPIC, "-o", str(out), "--bib", str(bib), "--force"])
    assert result.exit_code == 0, result.output
    assert out.read_text().startswith("# ") and "@" in bib.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["refs.bib", "review.md"]  # no temporary files left


def test_one_path_for_both_outputs_is_refused(sample_env: None, tmp_path: Path) -> None:
    same = tmp_path / "both.md"
    error = one_line_error(runner.invoke(app, ["summarize", TOPIC, "-o", str(same), "--bib", f"{tmp_path}/./both.md"]))
    assert "name the same file" in error and not same.exists()


def test_dash_means_standard_output(sample_env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    bib = tmp_path / "refs.bib"
    result = runner.invoke(app, ["summarize", TOPIC, "-o", "-", "--bib", str(bib)])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("# ") and "## References" in result.stdout
    assert not (tmp_path / "-").exists() and bib.exists()


# The child's disk "fills up" once the summary is written out: from its first temporary file
# on (Python's audit event), no file may grow past 1 KiB, and writes fail with EFBIG as on a
# full disk. The library's own files, read before, are not touched by the limit.
FULL_DISK = """
import resource, signal, sys
def full_disk(event, args):
    if event in ("tempfile.mkstemp", "open") and str(args[0]).endswith(("review.md", ".tmp")):
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of being killed
        resource.setrlimit(resource.RLIMIT_FSIZE, (1024, 1024))
sys.addaudithook(full_disk)
from connectors.cli import main
main()
"""


def test_a_full_disk_leaves_the_old_file_and_no_partial_one(sample_home: Path, tmp_path: Path) -> None:
    out = tmp_path / "review.md"
    out.write_text("the old review")
    env = {**os.environ, "PAPERBOT_HOME": str(sample_home)}
    argv = [sys.executable, "-c", FULL_DISK, "summarize", TOPIC, "-n", "20", "-o", str(out), "--force"]
    result = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith(f"error: cannot write {out}") and "unexpected" not in result.stderr
    assert out.read_text() == "the old review"
    assert [p.name for p in tmp_path.iterdir()] == ["review.md"]
