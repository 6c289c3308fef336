"""Chat completions through the `openai` client: OpenAI itself, or any compatible server
(vLLM, Ollama, llama.cpp server, LM Studio) at `PAPERBOT_LLM_BASE_URL`.

Timeouts, connection errors, 429 and 5xx are retried by the client itself, with
exponential backoff (`max_retries`). What still fails becomes `LLMUnavailable`, which the
engine answers with the extractive fallback. The API key is read from the environment and
handed to the client; it is never logged or written anywhere.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import httpx
import openai
from openai.types.chat import ChatCompletion

from assistant.errors import LLMUnavailable, PaperbotError

if TYPE_CHECKING:
    from assistant.settings import Settings

Messages = list[dict[str, str]]
NOT_A_COMPLETION = "the server's reply was not a chat completion"


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


class ChatClient:
    def __init__(self, settings: Settings) -> None:
        config = settings.llm
        key = settings.openai_api_key()
        if key is None and config.base_url is None:
            raise PaperbotError(
                "PAPERBOT_LLM=openai needs OPENAI_API_KEY (or PAPERBOT_LLM_API_KEY), "
                "or PAPERBOT_LLM_BASE_URL for a local OpenAI-compatible server"
            )
        self.config = config
        self.base_url = config.base_url or "https://api.openai.com/v1"
        self.client = openai.OpenAI(
            api_key=key or "not-needed",  # local servers ignore it, the client insists on one
            base_url=config.base_url,
            timeout=config.timeout,
            max_retries=config.retries,
        )
        self.name = f"openai:{config.model}"

    def _request(self, messages: Messages) -> dict[str, Any]:
        return {
            "model": self.config.model,
            "messages": messages,
            "temperature": self.config.temperature,
            "max_tokens": self.config.max_tokens,
        }

    def complete(self, messages: Messages) -> str:
        """The whole reply at once."""
        try:
            response = self.client.chat.completions.create(**self._request(messages))
        except (openai.OpenAIError, httpx.HTTPError) as exc:
            raise LLMUnavailable(describe(exc, self.base_url)) from None
        except ValueError:  # a 200 whose body is not JSON
            raise LLMUnavailable(NOT_A_COMPLETION) from None
        # A proxy's error page or a broken server can answer 200 with something else entirely.
        if not isinstance(response, ChatCompletion) or not response.choices:
            raise LLMUnavailable(NOT_A_COMPLETION)
        return response.choices[0].message.content or ""

    def stream(self, messages: Messages) -> Iterator[str]:
        """The reply piece by piece as the server sends it."""
        events_seen = 0
        try:
            events = self.client.chat.completions.create(**self._request(messages), stream=True)
            for event in events:
                events_seen += 1
                choices = getattr(event, "choices", None)  # the stream's item type is a union in the stubs
                if choices and choices[0].delta.content:
                    yield choices[0].delta.content
        except (openai.OpenAIError, httpx.HTTPError) as exc:  # a stream can also break half-way
            raise LLMUnavailable(describe(exc, self.base_url)) from None
        except ValueError:  # an event that is not JSON
            raise LLMUnavailable(NOT_A_COMPLETION) from None
        if not events_seen:  # even an empty answer arrives as events; none at all is not a stream
            raise LLMUnavailable(NOT_A_COMPLETION)
