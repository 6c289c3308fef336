"""A loopback HTTP server that replays canned feed responses: real samples, errors, slow
answers and dropped connections. It binds 127.0.0.1 on a free port and stops with its
`with` block; every request it saw is recorded with its arrival time."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Canned:
    body: bytes = b""
    status: int = 200
    delay: float = 0.0  # seconds before answering: a slow server
    drop: bool = False  # close the connection without answering
    content_type: str = "application/xml; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Seen:
    path: str
    query: dict[str, list[str]]
    user_agent: str
    at: float


@dataclass
class Routes:
    """Per path, responses served in order; the last one repeats."""

    queues: dict[str, list[Canned]] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_for(self, path: str) -> Canned:
        with self.lock:
            queue = self.queues.get(path)
            if not queue:
                return Canned(b"not found", status=404, content_type="text/plain")
            return queue.pop(0) if len(queue) > 1 else queue[0]


class FeedServer:
    def __init__(self) -> None:
        self.routes = Routes()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self.routes))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05})

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def serve(self, path: str, *responses: Canned) -> None:
        with self.routes.lock:
            self.routes.queues[path] = list(responses)

    def requests(self, path: str | None = None) -> list[Seen]:
        return [seen for seen in self.routes.seen if path is None or seen.path == path]

    def __enter__(self) -> FeedServer:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def _handler(routes: Routes) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlsplit(self.path)
            agent = self.headers.get("User-Agent", "")
            routes.seen.append(Seen(url.path, parse_qs(url.query), agent, time.monotonic()))
            canned = routes.next_for(url.path)
            time.sleep(canned.delay)
            if canned.drop:
                self.close_connection = True
                return
            self.send_response(canned.status)
            self.send_header("Content-Type", canned.content_type)
            self.send_header("Content-Length", str(len(canned.body)))
            for name, value in canned.headers:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(canned.body)

        def log_message(self, *_: object) -> None:
            return None

    return Handler


@contextmanager
def feed_server() -> Iterator[FeedServer]:
    with FeedServer() as server:
        yield server
