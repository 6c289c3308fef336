"""All of paperbot's settings in one tree.

Sources, strongest first: arguments, environment (`PAPERBOT_` prefix; nested fields joined
by `_`, e.g. PAPERBOT_RETRIEVAL_K), a TOML file (`paperbot.toml` in the working directory,
or the file PAPERBOT_CONFIG names), then the defaults below. Secrets come only from the
environment.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from platformdirs import user_data_dir
from pydantic import (
    AfterValidator,
    BaseModel,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from assistant.errors import PaperbotError

DEFAULT_LIBRARY = "default"
# Library names become part of Chroma collection names and folder names: keep them plain.
LIBRARY_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")


def library_name(value: str) -> str:
    if not LIBRARY_NAME.fullmatch(value):
        raise ValueError(f"a library name is 1-40 lowercase letters, digits, - or _ (not first); got {value!r}")
    return value


LibraryName = Annotated[str, AfterValidator(library_name)]


def default_home() -> Path:
    return Path(user_data_dir("paperbot", appauthor=False))


def config_file() -> Path:
    return Path(os.environ.get("PAPERBOT_CONFIG", "paperbot.toml"))


class EmbeddingSettings(BaseModel):
    provider: Literal["local", "openai"] = Field(
        "local", description="local: all-MiniLM-L6-v2 on onnxruntime; openai: an OpenAI-compatible server."
    )
    model: str = Field("text-embedding-3-small", description="Model name for the openai provider.")
    base_url: str | None = Field(None, description="OpenAI-compatible server URL (vLLM, Ollama...).")
    batch_size: int = Field(32, ge=1, le=2048, description="Texts per embedding call.")
    threads: int = Field(0, ge=0, description="onnxruntime threads for the local model; 0 = all cores.")
    timeout: float = Field(60.0, gt=0, description="Seconds before a remote embedding call fails.")


class ChromaSettings(BaseModel):
    url: str | None = Field(None, description="Chroma server URL (http://host:8000); unset = embedded.")
    collection: str = Field("paperbot", description="Prefix of the Chroma collection names.")
    retries: int = Field(
        3, ge=0, le=10, description="Retries (with backoff) of a Chroma server call that could not connect."
    )


class ChunkingSettings(BaseModel):
    size: int = Field(128, ge=32, le=256, description="Chunk size in MiniLM tokens, title included.")
    overlap: int = Field(24, ge=0, le=128, description="Tokens shared by neighbouring chunks.")


class RetrievalSettings(BaseModel):
    mode: Literal["hybrid", "dense", "bm25"] = Field(
        "hybrid", description="hybrid: dense + BM25 fused; dense or bm25 alone, for comparison."
    )
    k: int = Field(5, ge=1, le=100, description="Papers returned by search and used by ask.")
    candidates: int = Field(60, ge=1, le=1000, description="Chunks each ranker fetches before fusion.")
    fusion_k: float = Field(
        20.0, gt=0, description="Reciprocal rank fusion constant: larger flattens rank differences."
    )
    title_weight: float = Field(
        0.5, ge=0, le=2, description="Weight of the title-match ranking in fusion (chunk rankings weigh 1)."
    )
    diversity: float = Field(
        0.15, ge=0, le=1, description="Near-duplicate penalty for topical questions ('papers on X'); 0 = off."
    )
    min_score: float = Field(
        0.45, ge=-1, le=1, description="Relevance gate: below this similarity the library is taken to hold no answer."
    )


class AnswerSettings(BaseModel):
    """The extractive answerer (the default, and the fallback when the LLM is unavailable)."""

    max_sentences: int = Field(4, ge=1, le=12, description="Sentences quoted in an extractive answer.")
    min_sentence_score: float = Field(0.30, ge=-1, le=1, description="Weakest sentence similarity quoted.")
    shortlist: int = Field(
        2,
        ge=0,
        le=50,
        description="Sentences per paper (those sharing most words with the question) that the embedding model "
        "scores; 0 scores every sentence: ~3x slower, quoted sentences ~5% closer to the question.",
    )


class LLMSettings(BaseModel):
    """Generated answers. `PAPERBOT_LLM=openai` turns them on; the rest are PAPERBOT_LLM_*."""

    engine: Literal["extractive", "openai"] = Field(
        "extractive", description="extractive: quote the abstracts (no LLM); openai: OpenAI or a compatible server."
    )
    model: str = Field("gpt-4o-mini", description="Chat model name (for Ollama e.g. llama3.1:8b).")
    base_url: str | None = Field(None, description="OpenAI-compatible server URL; unset = api.openai.com.")
    temperature: float = Field(0.1, ge=0, le=2, description="Sampling temperature.")
    max_tokens: int = Field(600, ge=16, le=8192, description="Longest answer, in tokens.")
    timeout: float = Field(60.0, gt=0, description="Seconds before one LLM call is abandoned.")
    retries: int = Field(2, ge=0, le=10, description="Retries (with backoff) on timeouts, 429 and 5xx.")
    history_turns: int = Field(3, ge=0, le=10, description="Earlier chat turns used to rewrite a follow-up.")

    @model_validator(mode="before")
    @classmethod
    def engine_alone(cls, value: Any) -> Any:
        """`llm = "openai"` in TOML means the engine, like PAPERBOT_LLM=openai."""
        return {"engine": value} if isinstance(value, str) else value


class DiscordSettings(BaseModel):
    """The Discord bot. Its token comes from DISCORD_TOKEN or PAPERBOT_DISCORD_TOKEN only."""

    guild: int | None = Field(None, description="Sync slash commands to this guild only (instant; for testing).")
    cooldown: float = Field(10.0, ge=0, description="Seconds a user waits between two questions.")
    max_concurrent: int = Field(2, ge=1, le=32, description="Questions answered at once in one guild.")
    channels: list[int] = Field(default_factory=list, description="Channel ids the bot answers in; empty = all.")
    roles: list[int] = Field(default_factory=list, description="Role ids allowed to ask; empty = everyone.")
    stream_interval: float = Field(1.0, ge=0.2, description="Seconds between edits of a streaming answer.")
    shard_count: int | None = Field(
        None, ge=1, description="Gateway shards over all bot replicas; unset = one process serves every guild."
    )
    shard_id: int | None = Field(None, ge=0, description="This replica's shard, 0 to shard_count - 1.")
    libraries: dict[str, LibraryName] = Field(
        default_factory=dict,
        description='Library per server: {"guild_id": "name", "guild_id/channel_id": "name"}; '
        "a channel entry wins over its server's; unlisted servers use `library`.",
    )

    @model_validator(mode="after")
    def shard_in_range(self) -> DiscordSettings:
        if (self.shard_id is None) != (self.shard_count is None):
            raise ValueError("set discord.shard_id and discord.shard_count together")
        if self.shard_id is not None and self.shard_count is not None and self.shard_id >= self.shard_count:
            raise ValueError(f"discord.shard_id {self.shard_id} must be below shard_count {self.shard_count}")
        return self

    @field_validator("libraries")
    @classmethod
    def library_keys(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if not re.fullmatch(r"\d+(/\d+)?", key):
                raise ValueError(f"discord.libraries key {key!r} must be a server id or server_id/channel_id")
        return value


class FeedbackSettings(BaseModel):
    """👍/👎 on the bot's answers and /good /bad in chat, kept in <home>/feedback.sqlite3."""

    enabled: bool = Field(True, description="Record feedback; off = the bot keeps no log of its answers.")
    keep_days: int = Field(
        30, ge=1, le=3650, description="Days the bot remembers an answer it posted, so a later reaction counts."
    )


class PaperbotEnv(EnvSettingsSource):
    """PAPERBOT_LLM=openai names the engine, while PAPERBOT_LLM_MODEL etc. fill the rest of `llm`."""

    def prepare_field_value(self, field_name: str, field: FieldInfo, value: Any, value_is_complex: bool) -> Any:
        if field_name == "llm" and isinstance(value, str) and not value.lstrip().startswith("{"):
            value = json.dumps({"engine": value})
        return super().prepare_field_value(field_name, field, value, value_is_complex)


class Settings(BaseSettings):
    """Effective settings; `paperbot config` prints them."""

    model_config = SettingsConfigDict(
        env_prefix="PAPERBOT_",
        env_nested_delimiter="_",
        env_nested_max_split=1,
        extra="ignore",
    )

    home: Path = Field(default_factory=default_home, description="Data directory (Chroma files).")
    embedding: EmbeddingSettings = Field(default_factory=EmbeddingSettings)
    chroma: ChromaSettings = Field(default_factory=ChromaSettings)
    chunking: ChunkingSettings = Field(default_factory=ChunkingSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    answer: AnswerSettings = Field(default_factory=AnswerSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    discord: DiscordSettings = Field(default_factory=DiscordSettings)
    feedback: FeedbackSettings = Field(default_factory=FeedbackSettings)
    library: LibraryName = Field(
        DEFAULT_LIBRARY, description="Named library in the home (its own collections and keyword index)."
    )
    auto_sample: bool = Field(True, description="Ingest the bundled sample library when the library is empty.")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=config_file())
        return init_settings, PaperbotEnv(settings_cls), toml

    def collection_prefix(self) -> str:
        """The default library keeps the names homes had before libraries existed."""
        if self.library == DEFAULT_LIBRARY:
            return self.chroma.collection
        return f"{self.chroma.collection}.{self.library}"

    def openai_api_key(self) -> str | None:
        """From the environment only, never from a file."""
        key = os.environ.get("PAPERBOT_LLM_API_KEY") or os.environ.get("OPENAI_API_KEY")
        return SecretStr(key).get_secret_value() if key else None

    def discord_token(self) -> str | None:
        """From the environment only, never from a file."""
        return os.environ.get("DISCORD_TOKEN") or os.environ.get("PAPERBOT_DISCORD_TOKEN") or None

    def public_view(self) -> dict[str, Any]:
        """The settings as `paperbot config` shows them, secrets masked."""
        data = self.model_dump(mode="json")
        data["openai_api_key"] = "****" if self.openai_api_key() else None
        data["discord_token"] = "****" if self.discord_token() else None
        return data


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment and the TOML file (`overrides` win, e.g. --library);
    a bad value is one clear line."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = tuple(str(part) for part in first["loc"])
        env = "PAPERBOT_LLM" if loc == ("llm", "engine") else "PAPERBOT_" + "_".join(loc).upper()
        name = ".".join(loc)
        raise PaperbotError(f"invalid setting {name} ({env} or {config_file()}): {first['msg']}") from None
