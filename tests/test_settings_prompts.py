from __future__ import annotations

from pathlib import Path

import pytest

from assistant import prompting
from assistant.engine import Engine
from assistant.errors import PaperbotError
from assistant.settings import Settings, load_settings
from tests.fakes import HashingEmbedder


def test_environment_overrides_toml_which_overrides_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "paperbot.toml").write_text('[retrieval]\nk = 9\nmin_score = 0.5\n[chroma]\nurl = "http://toml:1"\n')
    monkeypatch.setenv("PAPERBOT_CHROMA_URL", "http://env:8000")
    settings = Settings()
    assert settings.retrieval.k == 9 and settings.retrieval.min_score == 0.5
    assert settings.chroma.url == "http://env:8000"
    assert settings.chunking.size == 128


def test_config_file_can_be_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "elsewhere.toml"
    path.write_text("auto_sample = false\n")
    monkeypatch.setenv("PAPERBOT_CONFIG", str(path))
    assert Settings().auto_sample is False


def test_home_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PAPERBOT_HOME", str(tmp_path / "lib"))
    assert Settings().home == tmp_path / "lib"


def test_invalid_values_are_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAPERBOT_RETRIEVAL_K", "0")
    with pytest.raises(ValueError, match=r"retrieval\.k"):
        Settings()


def test_shipped_templates_are_valid() -> None:
    prompting.check_all()
    assert "sourdough" in prompting.render("not_found", question="sourdough")


def test_a_template_with_wrong_placeholders_fails_at_load(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(prompting.TEMPLATES, "not_found", frozenset({"question", "topic"}))
    prompting.template.cache_clear()
    try:
        with pytest.raises(PaperbotError, match="placeholders"):
            prompting.check_all()
    finally:
        prompting.template.cache_clear()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PAPERBOT_DISCORD_SHARD_ID": "0"}, "together"),
        ({"PAPERBOT_DISCORD_SHARD_ID": "2", "PAPERBOT_DISCORD_SHARD_COUNT": "2"}, "must be below"),
    ],
)
def test_shard_settings_come_in_pairs_and_in_range(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(PaperbotError, match=message):
        load_settings()


def test_a_replica_joins_the_gateway_as_its_shard(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from connectors.discord_bot import PaperbotBot

    monkeypatch.setenv("PAPERBOT_DISCORD_SHARD_ID", "1")
    monkeypatch.setenv("PAPERBOT_DISCORD_SHARD_COUNT", "3")
    settings = Settings(home=tmp_path)
    bot = PaperbotBot(Engine(settings, embedder=HashingEmbedder()), settings)
    assert (bot.shard_id, bot.shard_count) == (1, 3)
