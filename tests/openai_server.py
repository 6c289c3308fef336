"""A small OpenAI-compatible HTTP server on 127.0.0.1 for tests: embeddings and chat
completions, plain or streamed (server-sent events).

It speaks the real wire format, so the real `openai` client is exercised end to end.
Requests are recorded. On demand: `fail_next` answers the next requests with HTTP errors,
`delay` stalls every reply, `replies` scripts what the model says (strings, or functions of
the request body), and `stop()` kills the server mid-conversation.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.fakes import HashingEmbedder

Reply = str | Callable[[dict[str, Any]], str]
SOURCE = re.compile(r'<source n="(\d+)">.*?text: (.*?)\n</source>', re.DOTALL)


def sources_in(body: dict[str, Any]) -> dict[int, str]:
    """The numbered source texts paperbot put in the prompt."""
    prompt = body["messages"][-1]["content"]
    return {int(n): text for n, text in SOURCE.findall(prompt)}


def cite(*numbers: int, extra: str = "") -> Callable[[dict[str, Any]], str]:
    """A reply quoting the first sentence of each given source, cited by its number, in that order."""

    def reply(body: dict[str, Any]) -> str:
        texts = sources_in(body)
        parts = [f"{texts[n].split('. ')[0].rstrip('.')} [{n}]." for n in numbers if n in texts]
        return " ".join(parts) + extra

    return reply


class FakeOpenAI:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.fail_next: list[int] = []
        self.garbage_next = 0  # requests answered 200 with a body that is not an OpenAI response
        self.replies: list[Reply] = []
        self.default_reply: Reply = cite(1)
        self.delay = 0.0
        self.token_delay = 0.0  # seconds between streamed pieces
        self.embedder = HashingEmbedder()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def __enter__(self) -> FakeOpenAI:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Shut down and close the port: later requests are refused, as with a killed server."""
        if self.thread.is_alive():
            self.server.shutdown()
            self.thread.join(timeout=5)
        self.server.server_close()

    def chat_requests(self) -> list[dict[str, Any]]:
        return [r["body"] for r in self.requests if r["path"].endswith("/chat/completions")]

    def reply_to(self, body: dict[str, Any]) -> str:
        reply = self.replies.pop(0) if self.replies else self.default_reply
        return reply(body) if callable(reply) else reply

    def embeddings(self, body: dict[str, Any]) -> dict[str, Any]:
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        vectors = self.embedder.embed(texts)
        data = [{"object": "embedding", "index": i, "embedding": v.tolist()} for i, v in enumerate(vectors)]
        usage = {"prompt_tokens": 0, "total_tokens": 0}
        return {"object": "list", "data": data, "model": body["model"], "usage": usage}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
                time.sleep(fake.delay)
                if fake.fail_next:
                    self._reply(fake.fail_next.pop(0), {"error": {"message": "scripted failure", "type": "server"}})
                elif fake.garbage_next:
                    fake.garbage_next -= 1
                    self._garbage()
                elif self.path.endswith("/embeddings"):
                    self._reply(200, fake.embeddings(body))
                elif self.path.endswith("/chat/completions") and body.get("stream"):
                    self._stream(body["model"], fake.reply_to(body))
                elif self.path.endswith("/chat/completions"):
                    self._reply(200, completion(body["model"], fake.reply_to(body)))
                else:
                    self._reply(404, {"error": {"message": f"no route {self.path}"}})

            def _garbage(self) -> None:
                data = b"<html><body>502 upstream hiccup {not json"
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _reply(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _stream(self, model: str, text: str) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                # Like OpenAI and vLLM: a first event with the role and no text, then word by word.
                for piece in ["", *re.findall(r"\S+\s*|\s+", text)]:
                    self.wfile.write(f"data: {json.dumps(chunk(model, piece))}\n\n".encode())
                    self.wfile.flush()
                    time.sleep(fake.token_delay)
                self.wfile.write(b"data: [DONE]\n\n")

            def log_message(self, *args: object) -> None:
                return None

        return Handler


def completion(model: str, text: str) -> dict[str, Any]:
    message = {"role": "assistant", "content": text}
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
    }


def chunk(model: str, piece: str) -> dict[str, Any]:
    choice = {"index": 0, "delta": {"content": piece}, "finish_reason": None}
    return {"id": "chatcmpl-test", "object": "chat.completion.chunk", "created": 0, "model": model, "choices": [choice]}
