"""A hostile OpenAI-compatible server on 127.0.0.1: the faults a real model server will not
produce on demand. Each request is answered in the current `mode`:

- "endless": a stream of well-formed events without text that never ends (a stuck model);
- "loop": the same cited sentence again and again, without end;
- "slow": a new cited sentence every second, without end;
- "trickle": a stream that sends one byte every `trickle_every` seconds;
- "huge": a stream (or body) of `huge_chars` characters, cited, with no end of sentence;
- "number", "object", "null_message": `content` of the wrong type, or no message at all;
- "reply": `reply` as it is (citation forms, control characters), streamed word by word.

Every loop is bounded (`MAX_SECONDS`), so a test that forgets the server cannot hang CI.
"""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MAX_SECONDS = 60.0
# Distinct sentences for "slow" (the loop detector stops a repeated one).
SLOW_SENTENCES = [
    "Grokking is generalization that arrives long after overfitting [1].",
    "Weight decay makes networks reach it sooner [1].",
    "Memorization of the training set comes first [1].",
    "Small transformers trained on modular arithmetic show the effect [1].",
    "Validation accuracy jumps suddenly late in training [1].",
]


def event(content: Any) -> bytes:
    choice = {"index": 0, "delta": {"content": content}, "finish_reason": None}
    body = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": "m", "choices": [choice]}
    return f"data: {json.dumps(body)}\n\n".encode()


def completion(message: Any) -> dict[str, Any]:
    choice = {"index": 0, "message": message, "finish_reason": "stop"}
    return {"id": "x", "object": "chat.completion", "created": 0, "model": "m", "choices": [choice]}


class HostileServer:
    def __init__(self) -> None:
        self.mode = "reply"
        self.reply = ""
        self.huge_chars = 20_000_000
        self.trickle_every = 1.0
        self.requests = 0
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def __enter__(self) -> HostileServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        hostile = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"  # the body ends when the connection closes

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                hostile.requests += 1
                try:
                    if body.get("stream"):
                        self._stream()
                    else:
                        self._whole()
                except (BrokenPipeError, ConnectionResetError):  # the client gave up: as it should
                    return

            def _whole(self) -> None:
                mode = hostile.mode
                messages = {
                    "number": {"role": "assistant", "content": 42},
                    "object": {"role": "assistant", "content": {"text": "hi [1]"}},
                    "null_message": None,
                    "huge": {"role": "assistant", "content": "claim [1] " * (hostile.huge_chars // 10)},
                }
                if mode in ("endless", "trickle"):
                    self._trickle_body()
                    return
                data = json.dumps(completion(messages.get(mode, {"role": "assistant", "content": hostile.reply})))
                self._send(data.encode())

            def _send(self, data: bytes, kind: str = "application/json") -> None:
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _start_stream(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()

            def _stream(self) -> None:
                self._start_stream()
                started = time.monotonic()
                mode = hostile.mode
                if mode in ("endless", "loop", "slow"):
                    self._forever(mode, started)
                elif mode == "trickle":
                    for byte in event("Grokking is delayed generalization [1]. ") * 100:
                        if time.monotonic() - started > MAX_SECONDS:
                            break
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                        time.sleep(hostile.trickle_every)
                elif mode == "huge":
                    piece = "word [1] and " * 1000
                    for _ in range(hostile.huge_chars // len(piece)):
                        self.wfile.write(event(piece))
                    self.wfile.write(b"data: [DONE]\n\n")
                elif mode in ("number", "object"):
                    self.wfile.write(event(42 if mode == "number" else {"text": "hi"}))
                    self.wfile.write(b"data: [DONE]\n\n")
                else:
                    for piece in re.findall(r"\S+\s*|\s+", hostile.reply):
                        self.wfile.write(event(piece))
                    self.wfile.write(b"data: [DONE]\n\n")

            def _forever(self, mode: str, started: float) -> None:
                count = 0
                while time.monotonic() - started < MAX_SECONDS:
                    count += 1
                    text = {"endless": None, "loop": "Models are studied here [1]. "}.get(mode)
                    if mode == "slow":
                        text = SLOW_SENTENCES[count % len(SLOW_SENTENCES)] + " "
                    self.wfile.write(event(text))
                    self.wfile.flush()
                    time.sleep(1.0 if mode == "slow" else 0.01)

            def _trickle_body(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "100000")
                self.end_headers()
                started = time.monotonic()
                while time.monotonic() - started < MAX_SECONDS:
                    self.wfile.write(b" ")
                    self.wfile.flush()
                    time.sleep(hostile.trickle_every)

            def log_message(self, *args: object) -> None:
                return None

        return Handler
