"""Machine and version facts every benchmark prints next to its figures, and the timer they share."""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import metadata
from typing import Any


def machine_info() -> dict[str, object]:
    versions = {}
    for package in ("paperbot", "chromadb", "onnxruntime", "numpy", "llama-index-core"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],  # other work on the machine skews timings
        "machine": platform.machine(),
        "python": platform.python_version(),
        "system": platform.platform(),
        "versions": versions,
    }


def timed(work: Callable[[], Any]) -> tuple[Any, float, float]:
    """`work()`'s result, wall seconds and CPU seconds (all threads of this process)."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = work()
    return result, time.perf_counter() - wall, time.process_time() - cpu
