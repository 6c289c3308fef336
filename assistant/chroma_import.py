"""chromadb, imported for about half its usual cost.

Most of `import chromadb` goes into the `overrides` package's `@override` decorator, which
chromadb puts on some 400 methods: at class-creation time each use disassembles the calling
module's code to find the base classes and compares signatures with typing introspection.
It only checks chromadb's own source (chromadb's tests run it for real); it changes nothing
about how the methods behave. Before chromadb is first imported, `override` is replaced by
a decorator that only marks the method as `overrides` does (`__override__`, which
`EnforceOverrides` checks), and its result is what chromadb gets. chromadb is the only
package here that uses `overrides`. tests/test_chroma_import.py checks that the marker is
still what chromadb's classes are built with, so a chromadb or overrides upgrade that
changes this shows up as a failing test, not as a silent slowdown or breakage.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from types import ModuleType
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])
_lock = threading.Lock()


def marked(method: F | None = None, **_checks: Any) -> Any:
    """`overrides.override` without its checks: `@marked`, or `@marked(check_signature=...)`."""
    if method is None:
        return marked
    method.__override__ = True  # type: ignore[attr-defined]  # as overrides does; EnforceOverrides reads it
    return method


def load_chromadb() -> ModuleType:
    """The chromadb package, imported with the quick `override` the first time."""
    with _lock:
        if "chromadb" not in sys.modules:
            import overrides

            overrides.override = overrides.overrides = marked
        import chromadb

        return chromadb
