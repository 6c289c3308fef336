"""Chat completions through the `openai` client: OpenAI itself, or any compatible server
(vLLM, Ollama, llama.cpp server, LM Studio) at `PAPERBOT_LLM_BASE_URL`.

Timeouts, connection errors, 429 and 5xx are retried by the client itself, with
exponential backoff (`max_retries`). What still fails becomes `LLMUnavailable`, which the
engine answers with the extractive fallback.

The server is not trusted. `timeout` is a deadline for the whole call, not per read: the
request runs in a worker thread, abandoned when the deadline passes, so a stream that never
ends or trickles a byte at a time cannot hang an answer. A reply is read up to
`max_reply_chars`; `content` that is not text is a broken reply, not a crash.

The API key is read from the environment and handed to the client; it is never logged or
written anywhere.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
import openai
from openai.types.chat import ChatCompletion

from assistant.errors import LLMUnavailable, PaperbotError

if TYPE_CHECKING:
    from assistant.settings import Settings

Messages = list[dict[str, str]]
NOT_A_COMPLETION = "the server's reply was not a chat completion"
T = TypeVar("T")
_END = object()


class ReplyCut(LLMUnavailable):
    """The reply was cut short (deadline or length): what arrived before may still be used."""


def describe(exc: Exception, base_url: str) -> str:
    """One line a user can act on, without the key or a stack of wrapped errors."""
    if isinstance(exc, openai.APITimeoutError):
        return "the request timed out"
    if isinstance(exc, openai.APIConnectionError | httpx.TransportError):
        return f"cannot connect to {base_url}"
    if isinstance(exc, openai.AuthenticationError):
        return "the server rejected the API key (HTTP 401)"
    if isinstance(exc, openai.APIStatusError):
        return f"the server answered HTTP {exc.status_code}"
    return type(exc).__name__


def chat_client(settings: Settings) -> ChatClient:
    """The client for the configured engine; `local` first starts its own llama.cpp server,
    which lives as long as the process (one server for the CLI command or the bot)."""
    if settings.llm.engine != "local":
        return ChatClient(settings)
    from assistant.local_model import shared_server

    server = shared_server(settings.llm)
    client = ChatClient(settings, base_url=server.base_url, model=server.alias)
    client.server = server
    return client


class ChatClient:
    def __init__(self, settings: Settings, base_url: str | None = None, model: str | None = None) -> None:
        """`base_url`/`model` override the settings (the local engine's own server)."""
        config = settings.llm
        key = settings.openai_api_key() if base_url is None else None
        base_url = base_url or config.base_url
        if key is None and base_url is None:
            raise PaperbotError(
                "PAPERBOT_LLM=openai needs OPENAI_API_KEY (or PAPERBOT_LLM_API_KEY), "
                "or PAPERBOT_LLM_BASE_URL for a local OpenAI-compatible server"
            )
        self.config = config
        self.model = model or config.model
        self.base_url = base_url or "https://api.openai.com/v1"
        self.client = openai.OpenAI(
            api_key=key or "not-needed",  # local servers ignore it, the client insists on one
            base_url=base_url,
            timeout=config.timeout,
            max_retries=config.retries,
        )
        self.local = config.engine == "local"
        self.server: object | None = None  # the local model's server, kept alive with the client
        self.name = f"{'local' if self.local else 'openai'}:{self.model}"

    def deadline(self) -> float:
        """A fresh deadline for one answer (monotonic seconds)."""
        return time.monotonic() + self.config.timeout

    def _request(self, messages: Messages) -> dict[str, Any]:
        request: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "temperature": self.config.temperature,
            "max_tokens": self.config.max_tokens,
        }
        if self.local:  # llama.cpp's own field; OpenAI itself rejects unknown fields
            request["extra_body"] = {"repeat_penalty": self.config.repeat_penalty}
        return request

    def complete(self, messages: Messages, deadline: float | None = None) -> str:
        """The whole reply at once."""
        response = within(deadline or self.deadline(), lambda: self._create(messages), self.config.timeout)
        # A proxy's error page or a broken server can answer 200 with something else entirely.
        choices = getattr(response, "choices", None) if isinstance(response, ChatCompletion) else None
        message = getattr(choices[0], "message", None) if choices else None
        content = getattr(message, "content", None) if message is not None else None
        if message is None or not isinstance(content, str | None):
            raise LLMUnavailable(NOT_A_COMPLETION)
        return (content or "")[: self.config.max_reply_chars]

    def _create(self, messages: Messages, stream: bool = False) -> Any:
        try:
            return self.client.chat.completions.create(**self._request(messages), stream=stream)
        except (openai.OpenAIError, httpx.HTTPError) as exc:
            raise LLMUnavailable(describe(exc, self.base_url)) from None
        except ValueError:  # a 200 whose body is not JSON
            raise LLMUnavailable(NOT_A_COMPLETION) from None

    def stream(self, messages: Messages, deadline: float | None = None) -> Iterator[str]:
        """The reply piece by piece as the server sends it, until the deadline or the length cap
        (then `ReplyCut`)."""
        pieces: queue.Queue[object] = queue.Queue()
        stop = threading.Event()
        worker = threading.Thread(target=self._produce, args=(messages, pieces, stop), daemon=True)
        worker.start()
        deadline = deadline or self.deadline()
        length = 0
        try:
            while (item := next_item(pieces, deadline, self.config.timeout)) is not _END:
                if isinstance(item, BaseException):
                    raise item
                text = str(item)[: self.config.max_reply_chars - length]
                length += len(text)
                yield text
                if length >= self.config.max_reply_chars:
                    raise ReplyCut(f"the reply passed {self.config.max_reply_chars} characters")
        finally:
            stop.set()  # the worker stops reading at its next event (or is abandoned)

    def _produce(self, messages: Messages, pieces: queue.Queue[object], stop: threading.Event) -> None:
        """In the worker thread: events to `pieces`, then _END or the exception."""
        events_seen = 0
        try:
            events = self._create(messages, stream=True)
            for event in events:
                if stop.is_set():
                    events.close()
                    return
                events_seen += 1
                if (piece := delta_text(event)) is not None:
                    pieces.put(piece)
            if not events_seen:  # even an empty answer arrives as events; none at all is not a stream
                raise LLMUnavailable(NOT_A_COMPLETION)
            pieces.put(_END)
        except LLMUnavailable as exc:
            pieces.put(exc)
        except (openai.OpenAIError, httpx.HTTPError) as exc:  # a stream can also break half-way
            pieces.put(LLMUnavailable(describe(exc, self.base_url)))
        except (ValueError, TypeError, AttributeError):  # an event that is not JSON, or not shaped like one
            pieces.put(LLMUnavailable(NOT_A_COMPLETION))


def delta_text(event: Any) -> str | None:
    """The text of one stream event; anything that is not a string is not text."""
    choices = getattr(event, "choices", None)
    if not isinstance(choices, list) or not choices:
        return None
    delta = getattr(choices[0], "delta", None)
    content = getattr(delta, "content", None)
    if content is not None and not isinstance(content, str):
        raise LLMUnavailable(NOT_A_COMPLETION)
    return content or None


def next_item(pieces: queue.Queue[object], deadline: float, timeout: float) -> object:
    try:
        return pieces.get(timeout=max(0.0, deadline - time.monotonic()))
    except queue.Empty:
        raise ReplyCut(f"the model did not finish within the {timeout:g} s deadline") from None


def within(deadline: float, call: Callable[[], T], timeout: float) -> T:
    """`call()` in a worker thread, abandoned (it is a daemon) when the deadline passes."""
    box: queue.Queue[tuple[bool, Any]] = queue.Queue()

    def run() -> None:
        try:
            box.put((True, call()))
        except BaseException as exc:
            box.put((False, exc))

    threading.Thread(target=run, daemon=True).start()
    try:
        ok, value = box.get(timeout=max(0.0, deadline - time.monotonic()))
    except queue.Empty:
        raise ReplyCut(f"the model did not answer within the {timeout:g} s deadline") from None
    if not ok:
        raise value
    return value
