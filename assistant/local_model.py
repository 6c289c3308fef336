"""A GGUF model served by llama.cpp (the prebuilt `xllamacpp` wheel) inside paperbot:
`PAPERBOT_LLM=local` with `PAPERBOT_LLM_MODEL_PATH=/path/model.gguf`.

The server runs in a child process (`python -m assistant.local_model ...`) on 127.0.0.1 and
a free port, speaking the same OpenAI-compatible API as any other server, so the answer
chain is the one `PAPERBOT_LLM=openai` uses. A child rather than a thread: llama.cpp holds
the GIL while it reads a long prompt, and stopping an in-process server waits for the
current batch, while a child is stopped at once with SIGTERM (or dies with its parent).

The parent waits for `/health`, which answers 503 while the model loads, then hands out
the base URL. `stop()` (also at interpreter exit) ends the child.
"""

from __future__ import annotations

import argparse
import atexit
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

from assistant.errors import PaperbotError

if TYPE_CHECKING:
    from assistant.settings import LLMSettings

READY = "listening "  # the child's one line on stdout: "listening http://127.0.0.1:PORT"
FAILED = "failed: "  # ... or why it could not start
INSTALL_HINT = "pip install 'paperbot[local]'"


def default_threads() -> int:
    """Half the CPUs: llama.cpp's threads wait for each other at every layer, so on a
    machine whose cores are shared, all-core generation collapses (see docs/llm.md)."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 2
    return max(1, cpus // 2)


def check_model_file(path: Path | None) -> Path:
    if path is None:
        raise PaperbotError("PAPERBOT_LLM=local needs PAPERBOT_LLM_MODEL_PATH, the path of a .gguf model file")
    path = path.expanduser()
    if not path.is_file():
        raise PaperbotError(f"the local model file {path} does not exist (PAPERBOT_LLM_MODEL_PATH)")
    with path.open("rb") as handle:
        if handle.read(4) != b"GGUF":
            raise PaperbotError(f"{path} is not a GGUF model file (PAPERBOT_LLM_MODEL_PATH)")
    return path


def xllamacpp_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("xllamacpp") is not None


_SERVERS: dict[tuple[str, int, int], LocalModelServer] = {}
_SERVERS_LOCK = threading.Lock()


def shared_server(config: LLMSettings) -> LocalModelServer:
    """One running server per model (and threads, context) for the whole process: the CLI
    command, every engine of the Discord bot, a test session."""
    server = LocalModelServer(config)
    key = (str(server.path.resolve()), config.threads, config.context)
    with _SERVERS_LOCK:
        running = _SERVERS.get(key)
        if running is not None and running.alive():
            return running
        server.start()
        _SERVERS[key] = server
        return server


class LocalModelServer:
    """One llama.cpp server child; stopped by `stop()` or when the process exits."""

    def __init__(self, config: LLMSettings) -> None:
        self.path = check_model_file(config.model_path)
        if not xllamacpp_installed():
            raise PaperbotError(f"PAPERBOT_LLM=local needs llama.cpp's server: {INSTALL_HINT}")
        self.config = config
        self.alias = self.path.stem
        self.process: subprocess.Popen[str] | None = None
        self.base_url = ""

    def start(self) -> str:
        """Starts the child and waits until the model answers; returns the /v1 base URL."""
        if self.process is not None:
            return self.base_url
        self.process = subprocess.Popen(
            self._command(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True
        )
        atexit.register(self.stop)
        deadline = time.monotonic() + self.config.load_timeout
        try:
            address = self._read_address(deadline)
            self._wait_healthy(address, deadline)
        except BaseException:
            self.stop()
            raise
        self.base_url = f"{address}/v1"
        return self.base_url

    def _command(self) -> list[str]:
        threads = self.config.threads or default_threads()
        return [
            sys.executable, "-m", "assistant.local_model", str(self.path),
            "--alias", self.alias, "--threads", str(threads), "--ctx", str(self.config.context),
        ]  # fmt: skip

    def _read_address(self, deadline: float) -> str:
        """The child's first stdout line, read in a thread so a silent child cannot hang us."""
        stdout = self.process.stdout if self.process is not None else None
        assert stdout is not None
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.append(stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout=max(0.0, deadline - time.monotonic()))
        line = lines[0].strip() if lines else ""
        if not line.startswith(READY):
            code = self.process.poll() if self.process is not None else None
            why = line.removeprefix(FAILED) if line.startswith(FAILED) else f"exit code {code}"
            if code is None and not line:
                why = f"not started within {self.config.load_timeout:.0f} s, PAPERBOT_LLM_LOAD_TIMEOUT"
            raise PaperbotError(f"the local model server could not load {self.path} ({why})")
        return line.removeprefix(READY).strip()

    def _wait_healthy(self, address: str, deadline: float) -> None:
        while not healthy(address):  # 503 while the model loads
            if self.process is not None and self.process.poll() is not None:
                raise PaperbotError(f"the local model server exited while loading {self.path}")
            if time.monotonic() > deadline:
                raise PaperbotError(f"the local model did not load within {self.config.load_timeout:.0f} s")
            time.sleep(0.2)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=1)  # it keeps nothing worth waiting for: no files, the port goes with it
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def healthy(address: str) -> bool:
    try:
        with urllib.request.urlopen(f"{address}/health", timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):  # 503 while loading, refused before it listens
        return False


# ---- the child -----------------------------------------------------------------------


def serve(args: argparse.Namespace) -> None:
    """Runs in the child: llama.cpp serves until SIGTERM, or until the parent goes away."""
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = args.model
    params.model_alias = {args.alias}  # a set in xllamacpp's API
    params.hostnames = ["127.0.0.1"]
    params.port = 0  # any free port
    params.n_ctx = args.ctx
    params.n_parallel = 1  # one request at a time gets the whole context
    params.cpuparams.n_threads = args.threads
    params.cpuparams_batch.n_threads = args.threads
    params.offline = True
    server = xllamacpp.Server(params)
    print(f"{READY}{server.listening_address}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    parent = os.getppid()
    while not stop.wait(0.5) and os.getppid() == parent:
        pass
    # Without the server's destructor: it would wait for the batch being computed.
    os._exit(0)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m assistant.local_model")
    parser.add_argument("model")
    parser.add_argument("--alias", required=True)
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--ctx", type=int, required=True)
    try:
        serve(parser.parse_args())
    except Exception as exc:  # its reason is in llama.cpp's log on stderr
        print(f"{FAILED}{type(exc).__name__}: {exc}", flush=True)
        os._exit(1)


if __name__ == "__main__":
    main()
