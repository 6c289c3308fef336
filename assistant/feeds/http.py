"""A polite HTTP client for feeds: a User-Agent, spacing between requests to one host,
retries with backoff on timeouts, dropped connections, 429 and 5xx, bounded response sizes,
and one-line errors."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt

from assistant.errors import PaperbotError
from assistant.settings import FeedSettings

RETRY_STATUS = {429, 500, 502, 503, 504}
MAX_RETRY_AFTER = 120.0  # seconds: the longest Retry-After honoured


class FeedError(PaperbotError):
    """A feed could not be fetched or read; the message is one line."""


class FeedRejected(FeedError):
    """The service refused the request itself (a bad query or id): retrying will not help."""


class _Retryable(Exception):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    host: str


class FeedClient:
    """One instance per fetch run; `sleep` and `clock` are injectable so tests need not wait."""

    def __init__(
        self,
        settings: FeedSettings,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self._sleep = sleep
        self._clock = clock
        self._last: dict[str, float] = {}  # host -> when the last request to it started
        timeout = httpx.Timeout(settings.timeout)
        self._http = httpx.Client(headers={"User-Agent": settings.user_agent}, timeout=timeout, follow_redirects=True)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> FeedClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def get(self, url: str, params: Mapping[str, str | int] | None = None, *, spacing: float = 0.0) -> Reply:
        """The response; 429/5xx and transient network failures are retried, then raise FeedError."""
        host = urlsplit(url).netloc or url
        retrying = Retrying(
            stop=stop_after_attempt(self.settings.retries + 1),
            wait=self._wait,
            retry=retry_if_exception_type(_Retryable),
            sleep=self._sleep,
            reraise=True,
        )
        try:
            return retrying(self._attempt, url, params, host, spacing)
        except _Retryable as exc:
            raise FeedError(f"{host}: {exc} (after {self.settings.retries + 1} attempts)") from None

    def _wait(self, state: RetryCallState) -> float:
        """Exponential backoff, or the server's Retry-After when it says more."""
        backoff = self.settings.backoff * 2 ** (state.attempt_number - 1)
        exc = state.outcome.exception() if state.outcome else None
        asked = exc.retry_after if isinstance(exc, _Retryable) and exc.retry_after else 0.0
        return max(backoff, min(asked, MAX_RETRY_AFTER))

    def _attempt(self, url: str, params: Mapping[str, str | int] | None, host: str, spacing: float) -> Reply:
        self._keep_spacing(host, spacing)
        try:
            with self._http.stream("GET", url, params=params) as response:
                if response.status_code in RETRY_STATUS:
                    raise _Retryable(f"HTTP {response.status_code}", _retry_after(response.headers))
                return Reply(response.status_code, self._bounded_body(response, host), host)
        except httpx.ConnectError as exc:  # offline, DNS failure, refused: retrying will not help soon
            raise FeedError(f"cannot reach {host} ({_reason(exc)}); check the network") from None
        except httpx.TimeoutException:
            raise _Retryable(f"no answer within {self.settings.timeout:g} s") from None
        except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
            raise _Retryable(f"the connection was dropped ({_reason(exc)})") from None
        except httpx.HTTPError as exc:
            raise FeedError(f"{host}: {_reason(exc)}") from None
        finally:
            self._last[host] = self._clock()

    def _keep_spacing(self, host: str, spacing: float) -> None:
        """Waits until `spacing` seconds have passed since the last reply from `host` ended:
        counted from the end, not the start, so the host sees the gap however slowly it answered."""
        if spacing > 0 and host in self._last:
            wait = self._last[host] + spacing - self._clock()
            if wait > 0:
                self._sleep(wait)

    def _bounded_body(self, response: httpx.Response, host: str) -> bytes:
        limit = self.settings.max_bytes
        chunks, size = [], 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > limit:
                raise FeedError(f"{host}: response larger than {limit:,} bytes (feeds.max_bytes); not read")
            chunks.append(chunk)
        return b"".join(chunks)


def _retry_after(headers: httpx.Headers) -> float | None:
    try:
        return float(headers.get("Retry-After", ""))
    except ValueError:
        return None


def _reason(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    return text[:200] or type(exc).__name__
