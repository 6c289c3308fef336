"""Related papers: known neighbours in the bundled sample (real MiniLM), the paper itself never
listed, shared terms ranked by rarity, and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assistant.engine import Engine
from assistant.errors import PaperbotError
from connectors.cli import app

# Groups of sample papers whose titles name one distinctive topic that no other sample title
# names; each should find the others of its group first. (ids: hashes of the titles)
TOPICS = {
    "hate": ["t-8e53a556372e", "t-7e751d01f2d9"],  # cross-platform hate speech detection
    "pde": ["t-e286c9e1590f", "t-dd5f736c0587", "t-3f54456dc768"],  # neural PDE solvers
    "segmentation": ["t-e875aa0a1d29", "t-8ab8449da266", "t-9c713d3f5f8c"],  # medical image segmentation
    "length": ["t-f277b734d985", "t-a2ddf346664c", "t-54f7f0e26f3c"],  # length generalization in transformers
}

runner = CliRunner()


@pytest.mark.parametrize("topic", sorted(TOPICS))
def test_papers_on_one_topic_find_each_other_first(sample_engine: Engine, topic: str) -> None:
    group = TOPICS[topic]
    for paper_id in group:
        paper, found = sample_engine.related(paper_id, 5)
        ids = [item.paper.id for item in found]
        assert paper_id not in ids and len(ids) == 5
        assert ids[0] in group, (paper.title, [item.paper.title for item in found])
        assert set(group) - {paper_id} <= set(ids), (paper.title, [item.paper.title for item in found])
        similarities = [item.similarity for item in found]
        assert similarities == sorted(similarities, reverse=True)
        assert topic in found[0].shared_terms, found[0].shared_terms


def test_shared_terms_put_rare_words_before_common_ones(sample_engine: Engine) -> None:
    _, found = sample_engine.related("t-8e53a556372e", 1)
    terms = found[0].shared_terms
    assert {"hate", "speech"} <= set(terms[:4])
    assert "learning" not in terms[:4] and "model" not in terms  # words most papers use


def test_an_unknown_paper_is_one_clear_error(sample_engine: Engine) -> None:
    with pytest.raises(PaperbotError, match="no paper with id 'nope'"):
        sample_engine.related("nope")


def test_term_counts_follow_the_library(fake_engine: Engine, tmp_path: Path) -> None:
    first = tmp_path / "a.jsonl"
    first.write_text(
        "\n".join(
            json.dumps(p)
            for p in [
                {"title": "Kelp forests and urchins", "abstract": "Urchins graze kelp forests at night."},
                {"title": "Urchin barrens", "abstract": "Barrens form where urchins remove kelp."},
                {"title": "Grokking", "abstract": "Delayed generalization in networks."},
            ]
        )
    )
    fake_engine.ingest([first])
    kelp = fake_engine.search("kelp forests", k=1)[0].paper.id
    _, found = fake_engine.related(kelp, 5)
    assert found[0].paper.title == "Urchin barrens" and len(found) == 2
    assert fake_engine.term_frequencies.get(fake_engine.store).papers == 3
    second = tmp_path / "b.jsonl"
    second.write_text(json.dumps({"title": "Sea otters", "abstract": "Otters eat urchins, kelp returns."}))
    fake_engine.ingest([second])
    frequencies = fake_engine.term_frequencies.get(fake_engine.store)
    assert frequencies.papers == 4 and frequencies.df["otter"] == 1 and frequencies.df["kelp"] == 3


def test_related_on_the_command_line(sample_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAPERBOT_HOME", str(sample_home))
    result = runner.invoke(app, ["related", "t-8e53a556372e", "-k", "2", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["paper_id"] == "t-8e53a556372e" and len(data["related"]) == 2
    assert data["related"][0]["paper_id"] == "t-7e751d01f2d9" and "hate" in data["related"][0]["shared_terms"]
    text = runner.invoke(app, ["related", "t-8e53a556372e", "-k", "1"])
    assert "PEACE: Cross-Platform Hate Speech Detection" in text.stdout and "shared: hate" in text.stdout
    missing = runner.invoke(app, ["related", "nope"])
    assert missing.exit_code == 1 and "no paper with id 'nope'" in missing.stderr
