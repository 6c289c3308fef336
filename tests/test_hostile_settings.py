"""Settings a careless or hostile user (or a paperbot.toml in the working directory) can give:
each bad one is one line naming the setting and where it came from, never a hang or a default
silently kept; `paperbot config` says where each value came from."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from connectors.cli import app

runner = CliRunner()


def error_of(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 1, result.output
    assert len(result.stderr.strip().splitlines()) == 1 and "unexpected" not in result.stderr
    return result.stderr


def test_a_misspelt_key_in_the_file_names_the_key(tmp_path: Path) -> None:
    (tmp_path / "paperbot.toml").write_text("[retrieval]\nmin_scor = 0.9\n")
    error = error_of("config")
    assert "paperbot.toml: unknown setting retrieval.min_scor (did you mean retrieval.min_score?)" in error
    (tmp_path / "paperbot.toml").write_text("auto_sampel = false\n")
    assert "unknown setting auto_sampel" in error_of("stats")


def test_a_missing_or_malformed_file_is_an_error_naming_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAPERBOT_CONFIG", str(tmp_path / "typo.toml"))
    assert f"PAPERBOT_CONFIG names {tmp_path / 'typo.toml'}, which does not exist" in error_of("config")
    (tmp_path / "bad.toml").write_text("[retrieval\nk = 3\n")
    monkeypatch.setenv("PAPERBOT_CONFIG", str(tmp_path / "bad.toml"))
    assert f"{tmp_path / 'bad.toml'}: not valid TOML" in error_of("config")


@pytest.mark.parametrize(
    ("name", "value", "setting"),
    [
        ("PAPERBOT_EMBEDDING_THREADS", "100000", "embedding.threads"),
        ("PAPERBOT_LLM_TIMEOUT", "inf", "llm.timeout"),
        ("PAPERBOT_LLM_TIMEOUT", "nan", "llm.timeout"),
        ("PAPERBOT_LLM_TIMEOUT", "-1", "llm.timeout"),
        ("PAPERBOT_EMBEDDING_TIMEOUT", "1e308", "embedding.timeout"),
        ("PAPERBOT_RETRIEVAL_FUSION_K", "inf", "retrieval.fusion_k"),
        ("PAPERBOT_RETRIEVAL_TITLE_WEIGHT", "nan", "retrieval.title_weight"),
        ("PAPERBOT_DISCORD_COOLDOWN", "inf", "discord.cooldown"),
        ("PAPERBOT_CHROMA_URL", "localhost:8000", "chroma.url"),
        ("PAPERBOT_LLM_BASE_URL", "file:///etc/passwd", "llm.base_url"),
        ("PAPERBOT_CHROMA_COLLECTION", "../../elsewhere", "chroma.collection"),
        ("PAPERBOT_LLM_MODEL", "", "llm.model"),
    ],
)
def test_every_setting_is_bounded_and_named(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, setting: str
) -> None:
    monkeypatch.setenv(name, value)
    assert f"invalid setting {setting} ({name})" in error_of("stats")


def test_a_bad_value_in_the_file_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "paperbot.toml").write_text("[retrieval]\nfusion_k = inf\n")
    assert f"invalid setting retrieval.fusion_k (file {tmp_path / 'paperbot.toml'})" in error_of("config")


def test_an_empty_chroma_url_means_the_embedded_library(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAPERBOT_CHROMA_URL", "")
    result = runner.invoke(app, ["health", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["chroma"] == "embedded"


HOSTILE_TOML = '[llm]\nengine = "openai"\nbase_url = "{url}"\n'


def test_the_api_key_never_goes_over_plain_http_to_another_host(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-very-secret")
    (tmp_path / "paperbot.toml").write_text(HOSTILE_TOML.format(url="http://collector.example:8080/v1"))
    error = error_of("ask", "what is grokking?")
    assert "llm.base_url http://collector.example:8080/v1" in error and "plain HTTP" in error
    assert str(tmp_path / "paperbot.toml") in error and "sk-test" not in error
    monkeypatch.setenv("PAPERBOT_ALLOW_HTTP_KEY", "1")  # the environment, never the file, can allow it
    assert runner.invoke(app, ["config"]).exit_code == 0
    monkeypatch.delenv("PAPERBOT_ALLOW_HTTP_KEY")
    for url in ("https://collector.example/v1", "http://127.0.0.1:8080/v1", "http://localhost:1/v1"):
        (tmp_path / "paperbot.toml").write_text(HOSTILE_TOML.format(url=url))
        assert runner.invoke(app, ["config"]).exit_code == 0, url
    (tmp_path / "paperbot.toml").write_text('allow_http_key = true\n[llm]\nbase_url = "http://x.example"\n')
    assert "unknown setting allow_http_key" in error_of("config")


def test_config_shows_where_each_value_came_from(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "paperbot.toml").write_text('llm = "openai"\n[retrieval]\nk = 9\nmode = "bm25"\n')
    monkeypatch.setenv("PAPERBOT_RETRIEVAL_K", "7")
    result = runner.invoke(app, ["config"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    file = f"(file {tmp_path / 'paperbot.toml'})"
    assert "retrieval.k = 7  (env PAPERBOT_RETRIEVAL_K)" in lines
    assert f'retrieval.mode = "bm25"  {file}' in lines and f'llm.engine = "openai"  {file}' in lines
    assert "retrieval.fusion_k = 20.0  (default)" in lines
    sources = json.loads(runner.invoke(app, ["config", "--json"]).stdout)["sources"]
    assert sources["retrieval.k"] == "env PAPERBOT_RETRIEVAL_K" and sources["retrieval.mode"] == file[1:-1]


@pytest.mark.parametrize(("name", "value"), [("PAPERBOT_DISCORD_CHANNELS", "12,13"), ("PAPERBOT_LLM", "{bad")])
def test_a_list_or_section_that_is_not_json_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    assert f"invalid setting in {name}: " in error_of("config")


def test_an_empty_home_means_the_default_not_the_working_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAPERBOT_HOME", "")
    home = json.loads(runner.invoke(app, ["config", "--json"]).stdout)["home"]
    assert Path(home).is_absolute() and home.endswith("paperbot")
