"""Give freed heap memory back to the operating system, and read what the process holds.

glibc keeps memory that a process frees for its own reuse; a long-running bot that once
needed a large buffer (the embedding model's activations for a batch of sentences, the
model's graph optimisation at load) would hold it for good. `malloc_trim` returns what is
free. Elsewhere (macOS, musl) there is no such call and this does nothing.
"""

from __future__ import annotations

import ctypes
import functools
import gc
from collections.abc import Callable


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    try:
        process = ctypes.CDLL(None)  # the symbols already loaded: libc among them on Linux
    except OSError:
        return None
    trim = getattr(process, "malloc_trim", None)
    if trim is None:
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


def release_memory() -> bool:
    """Freed heap pages back to the system; False where the C library cannot do it."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


M_ARENA_MAX = -8  # mallopt's parameter number in glibc's malloc.h


def limit_heaps(count: int = 2) -> bool:
    """At most `count` malloc heaps for the process's threads from now on (glibc makes up to
    8 a core, one per thread that allocates at once): the bot's questions run in worker
    threads, and each heap keeps its own freed memory. False where this cannot be set."""
    try:
        mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    except OSError:
        return False
    if mallopt is None:
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_ARENA_MAX, count))


def status_mb(field: str = "VmRSS") -> float:
    """A memory line of Linux's /proc/self/status, in MB: VmRSS (resident now), VmHWM (peak)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(f"{field}:"):
                return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError(f"no {field} in /proc/self/status")


def settled_rss_mb() -> float:
    """Resident MB after a collection and `release_memory`: memory freed but still resident
    would hide a leak that reuses it."""
    gc.collect()
    release_memory()
    return status_mb("VmRSS")
