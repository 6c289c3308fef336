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
    ConfigDict,
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
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from assistant.errors import PaperbotError
from assistant.settings_file import check_url, config_file, is_loopback, read_config, value_sources

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


# Bounds keep every value where the code behind it works: no inf/nan (a timeout of inf
# overflows, FUSION_K=inf zeroes every score), no thread count that hangs the machine.
MAX_SECONDS = 3600.0
# Environment only, like the secrets: a settings file must not be able to allow it.
ALLOW_HTTP_KEY = "PAPERBOT_ALLOW_HTTP_KEY"


# "" means unset (an empty PAPERBOT_CHROMA_URL must not switch to server mode); anything else
# must be an http(s) URL with a host.
Url = Annotated[str | None, AfterValidator(check_url)]


class Section(BaseModel):
    model_config = ConfigDict(allow_inf_nan=False)


class EmbeddingSettings(Section):
    provider: Literal["local", "openai"] = Field(
        "local", description="local: all-MiniLM-L6-v2 on onnxruntime; openai: an OpenAI-compatible server."
    )
    model: str = Field(
        "text-embedding-3-small", min_length=1, max_length=200, description="Model name for the openai provider."
    )
    base_url: Url = Field(None, description='OpenAI-compatible server URL (vLLM, Ollama...); "" = unset.')
    batch_size: int = Field(32, ge=1, le=2048, description="Texts per embedding call.")
    threads: int = Field(0, ge=0, le=256, description="onnxruntime threads for the local model; 0 = all cores.")
    timeout: float = Field(60.0, gt=0, le=MAX_SECONDS, description="Seconds before a remote embedding call fails.")


class ChromaSettings(Section):
    url: Url = Field(None, description='Chroma server URL (http://host:8000); unset or "" = embedded.')
    collection: str = Field(
        "paperbot",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{1,40}[A-Za-z0-9]$",  # Chroma's name rules; also a folder name
        description="Prefix of the Chroma collection names.",
    )
    retries: int = Field(
        3, ge=0, le=10, description="Retries (with backoff) of a Chroma server call that could not connect."
    )


class ChunkingSettings(Section):
    size: int = Field(128, ge=32, le=256, description="Chunk size in MiniLM tokens, title included.")
    overlap: int = Field(24, ge=0, le=128, description="Tokens shared by neighbouring chunks.")


class RetrievalSettings(Section):
    mode: Literal["hybrid", "dense", "bm25"] = Field(
        "hybrid", description="hybrid: dense + BM25 fused; dense or bm25 alone, for comparison."
    )
    k: int = Field(5, ge=1, le=100, description="Papers returned by search and used by ask.")
    candidates: int = Field(60, ge=1, le=1000, description="Chunks each ranker fetches before fusion.")
    fusion_k: float = Field(
        20.0, gt=0, le=10_000, description="Reciprocal rank fusion constant: larger flattens rank differences."
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


class AnswerSettings(Section):
    """The extractive answerer (the default, and the fallback when the LLM is unavailable)."""

    max_sentences: int = Field(4, ge=1, le=12, description="Sentences quoted in an extractive answer.")
    min_sentence_score: float = Field(0.30, ge=-1, le=1, description="Weakest sentence similarity quoted.")
    shortlist: int = Field(
        4,
        ge=0,
        le=50,
        description="Sentences per paper (those sharing most words with the question, stated contributions first) "
        "that the embedding model scores; 0 scores every sentence (slower).",
    )
    paper_bar: float = Field(
        0.8,
        ge=0,
        le=1,
        description="A paper besides the best one is cited only if its fused retrieval score reaches this share "
        "of the best paper's...",
    )
    similarity_margin: float = Field(
        0.15, ge=0, le=2, description="...and its similarity to the question is at most this far below the best's."
    )
    list_bar: float = Field(
        0.6,
        ge=0,
        le=1,
        description="'Which papers...' questions list every paper whose fused score reaches this share of the best.",
    )
    list_floor: float = Field(
        0.4, ge=0, le=1, description="...or this share, when the paper states every word of the topic."
    )
    list_margin: float = Field(
        0.25, ge=0, le=2, description="...and, either way, whose similarity is at most this far below the closest's."
    )
    list_papers: int = Field(10, ge=1, le=50, description="Papers retrieved for a 'which papers...' question.")


class LLMSettings(Section):
    """Generated answers. `PAPERBOT_LLM=openai` (or `local`) turns them on; the rest are PAPERBOT_LLM_*."""

    engine: Literal["extractive", "openai", "local"] = Field(
        "extractive",
        description="extractive: quote the abstracts (no LLM); openai: OpenAI or a compatible server; "
        "local: a GGUF model (model_path) run by llama.cpp inside paperbot (pip install 'paperbot[local]').",
    )
    model: str = Field(
        "gpt-4o-mini", min_length=1, max_length=200, description="Chat model name (for Ollama e.g. llama3.1:8b)."
    )
    base_url: Url = Field(None, description='OpenAI-compatible server URL; unset or "" = api.openai.com.')
    model_path: Path | None = Field(None, description="The GGUF file the local engine runs.")
    threads: int = Field(0, ge=0, le=256, description="CPU threads of the local model; 0 = half the cores.")
    context: int = Field(8192, ge=512, le=131072, description="Context window of the local model, in tokens.")
    load_timeout: float = Field(
        300.0, gt=0, le=3600, description="Seconds the local model may take to load before paperbot gives up."
    )
    temperature: float = Field(0.1, ge=0, le=2, description="Sampling temperature.")
    max_tokens: int = Field(600, ge=16, le=8192, description="Longest answer, in tokens (the server stops there).")
    max_reply_chars: int = Field(
        20_000, ge=200, le=1_000_000, description="Longest reply read from the server; the rest is not read."
    )
    repeat_penalty: float = Field(
        1.1, ge=1, le=2, description="llama.cpp's repetition penalty (local engine); 1 = off."
    )
    timeout: float = Field(
        60.0,
        gt=0,
        le=MAX_SECONDS,
        description="Deadline in seconds for a whole answer (connecting, waiting and streaming); past it the "
        "checked part that arrived is kept, or the extractive answer is shown, labelled.",
    )
    retries: int = Field(2, ge=0, le=10, description="Retries (with backoff) on timeouts, 429 and 5xx.")
    history_turns: int = Field(3, ge=0, le=10, description="Earlier chat turns used to rewrite a follow-up.")

    @model_validator(mode="before")
    @classmethod
    def engine_alone(cls, value: Any) -> Any:
        """`llm = "openai"` in TOML means the engine, like PAPERBOT_LLM=openai."""
        return {"engine": value} if isinstance(value, str) else value


class DiscordSettings(Section):
    """The Discord bot. Its token comes from DISCORD_TOKEN or PAPERBOT_DISCORD_TOKEN only."""

    guild: int | None = Field(None, ge=0, description="Sync slash commands to this guild only (instant; for testing).")
    cooldown: float = Field(10.0, ge=0, le=MAX_SECONDS, description="Seconds a user waits between two questions.")
    max_concurrent: int = Field(2, ge=1, le=32, description="Questions answered at once in one guild.")
    channels: list[int] = Field(default_factory=list, description="Channel ids the bot answers in; empty = all.")
    roles: list[int] = Field(default_factory=list, description="Role ids allowed to ask; empty = everyone.")
    stream_interval: float = Field(1.0, ge=0.2, le=60, description="Seconds between edits of a streaming answer.")
    shard_count: int | None = Field(
        None,
        ge=1,
        le=10_000,
        description="Gateway shards over all bot replicas; unset = one process serves every guild.",
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


class FeedbackSettings(Section):
    """👍/👎 on the bot's answers and /good /bad in chat, kept in <home>/feedback.sqlite3."""

    enabled: bool = Field(True, description="Record feedback; off = the bot keeps no log of its answers.")
    keep_days: int = Field(
        30, ge=1, le=3650, description="Days the bot remembers an answer it posted, so a later reaction counts."
    )


class FeedSettings(Section):
    """Paper feeds (`paperbot fetch`) and the bot's digests. PAPERBOT_FEEDS_* in the environment."""

    daily_papers_url: str = Field(
        "https://huggingface.co/api/daily_papers", description="Hugging Face daily papers API (JSON)."
    )
    arxiv_api_url: str = Field("https://export.arxiv.org/api/query", description="arXiv API query endpoint (Atom).")
    arxiv_rss_url: str = Field(
        "https://rss.arxiv.org/rss",
        description="arXiv listing feeds (RSS); /<category> is appended.",
    )
    user_agent: str = Field(
        "paperbot/0.1 (research-assistant; feed fetcher)", description="User-Agent sent with every feed request."
    )
    arxiv_interval: float = Field(3.0, ge=0, description="Seconds between two arXiv requests (arXiv asks for 3).")
    timeout: float = Field(30.0, gt=0, description="Seconds before one feed request is abandoned.")
    retries: int = Field(
        3, ge=0, le=10, description="Retries (with backoff) on timeouts, dropped connections, 429, 5xx."
    )
    backoff: float = Field(
        2.0, ge=0, le=120, description="First wait before a retry, in seconds; it doubles each time."
    )
    max_bytes: int = Field(20_000_000, ge=1000, description="Largest feed response accepted, in bytes.")
    max_results: int = Field(200, ge=1, le=5000, description="Most papers one arXiv API fetch (--query/--since) reads.")
    page_size: int = Field(100, ge=1, le=2000, description="Papers per arXiv API request (max_results per page).")
    digest_hours: list[int] = Field(
        default_factory=lambda: [8], description="UTC hours at which the bot fetches and posts digests; [] = never."
    )
    digest_papers: int = Field(5, ge=1, le=20, description="Papers listed in one channel's digest.")

    @model_validator(mode="after")
    def hours_in_range(self) -> FeedSettings:
        if any(not 0 <= hour <= 23 for hour in self.digest_hours):
            raise ValueError("feeds.digest_hours must be hours 0-23")
        return self


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
    feeds: FeedSettings = Field(default_factory=FeedSettings)
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
        _, file_data = read_config(settings_cls)
        return init_settings, PaperbotEnv(settings_cls), InitSettingsSource(settings_cls, file_data)

    @field_validator("home", mode="before")
    @classmethod
    def empty_home_is_default(cls, value: Any) -> Any:
        """PAPERBOT_HOME="" means unset, not the working directory."""
        return default_home() if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def key_stays_private(self) -> Settings:
        """A paperbot.toml in the working directory can name the server: the API key goes to
        it over plain HTTP only on this machine, or when the environment allows it."""
        if os.environ.get(ALLOW_HTTP_KEY, "").lower() in {"1", "true", "yes"} or not self.openai_api_key():
            return self
        for name, url, used in (
            ("llm.base_url", self.llm.base_url, self.llm.engine == "openai"),
            ("embedding.base_url", self.embedding.base_url, self.embedding.provider == "openai"),
        ):
            if used and url and url.lower().startswith("http://") and not is_loopback(url):
                raise PaperbotError(
                    f"{name} {url} ({setting_sources().get(name, 'default')}) would receive the API key over plain "
                    f"HTTP: use https://, or set {ALLOW_HTTP_KEY}=1 in the environment to allow it"
                )
        return self

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
        """The settings as `paperbot config` shows them, secrets masked; "sources" names where
        each value not at its default came from."""
        data = self.model_dump(mode="json")
        data["openai_api_key"] = "****" if self.openai_api_key() else None
        data["discord_token"] = "****" if self.discord_token() else None
        data["sources"] = setting_sources()
        return data


def setting_sources() -> dict[str, str]:
    """Where each setting given outside the defaults came from: "env NAME" or "file PATH"."""
    path, file_data = read_config(Settings)
    return value_sources(PaperbotEnv(Settings)(), file_data, path)


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment and the TOML file (`overrides` win, e.g. --library);
    a bad value is one clear line."""
    try:
        return Settings(**overrides)
    except SettingsError as exc:  # a list or section given as text that is not JSON
        field = re.search(r'field "(\w+)"', str(exc))
        names = sorted(n for n in os.environ if field and n.startswith(f"PAPERBOT_{field.group(1).upper()}"))
        raise PaperbotError(f"invalid setting in {' or '.join(names) or 'the environment'}: {exc.__cause__}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = tuple(str(part) for part in first["loc"])
        name = ".".join(loc)
        where = setting_sources().get(name) or setting_sources().get(name.rsplit(".", 1)[0])
        where = where.removeprefix("env ") if where else None  # the variable's name says it all
        env = "PAPERBOT_LLM" if loc == ("llm", "engine") else "PAPERBOT_" + "_".join(loc).upper()
        raise PaperbotError(
            f"invalid setting {name} ({where or f'{env} or {config_file()}'}): {first['msg']}"
        ) from None
