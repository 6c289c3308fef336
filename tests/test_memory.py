from __future__ import annotations

import subprocess
import sys

import pytest

from assistant.memory import release_memory, status_mb

linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RSS from /proc, malloc_trim: glibc")


@linux
def test_freed_heap_memory_goes_back_to_the_system() -> None:
    blocks = [bytes(2000) for _ in range(40_000)]  # ~80 MB of malloc'd heap, each block below mmap's threshold
    keep = bytes(2000)  # allocated last: the heap's top stays in use, so free() alone keeps the rest
    del blocks
    before = status_mb()
    assert release_memory() is True
    assert before - status_mb() > 40, "malloc_trim returned less than half of the freed 80 MB"
    assert keep


HEAPS_SCRIPT = """
import ctypes, sys, threading
from assistant.memory import limit_heaps
if sys.argv[1] == "limited":
    assert limit_heaps(2)
held = []
together = threading.Barrier(6)  # all alive at once: a thread that has ended hands its heap on
def work():
    held.append([bytes(1000) for _ in range(200)])
    together.wait()
threads = [threading.Thread(target=work) for _ in range(6)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
ctypes.CDLL(None).malloc_stats()  # one "Arena N:" block a heap, on stderr
"""


def heaps(mode: str) -> int:
    done = subprocess.run([sys.executable, "-c", HEAPS_SCRIPT, mode], capture_output=True, text=True, check=True)
    return done.stderr.count("Arena ")


@linux
def test_threads_share_at_most_the_heaps_allowed() -> None:
    assert heaps("free") > 2  # glibc's default: a heap for each thread that allocates
    assert heaps("limited") <= 2
