from __future__ import annotations

import sys

import pytest

from assistant.memory import release_memory

linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RSS from /proc, malloc_trim: glibc")


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@linux
def test_freed_heap_memory_goes_back_to_the_system() -> None:
    blocks = [bytes(2000) for _ in range(40_000)]  # ~80 MB of malloc'd heap, each block below mmap's threshold
    keep = bytes(2000)  # allocated last: the heap's top stays in use, so free() alone keeps the rest
    del blocks
    before = rss_mb()
    assert release_memory() is True
    assert before - rss_mb() > 40, "malloc_trim returned less than half of the freed 80 MB"
    assert keep
