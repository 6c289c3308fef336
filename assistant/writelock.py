"""One writer per library home: an advisory file lock held while a process changes the library.

Readers never take it (they read committed batches through the keyword index's revision), so
a long ingest never blocks questions. The lock is an fcntl lock on `<home>/writer.lock`: the
kernel releases it when the holder exits or is killed, so a crash never leaves it stuck. The
holder writes its pid into the file so a waiting writer can say who it waits for.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from assistant.errors import PaperbotError

LOCK_NAME = "writer.lock"


class LibraryBusy(PaperbotError):
    """Another process is writing to the library and the caller asked not to wait."""


def _holder(handle: int) -> str:
    os.lseek(handle, 0, os.SEEK_SET)
    text = os.read(handle, 32).decode(errors="replace").strip()
    return f"pid {text}" if text.isdigit() else "another process"


def _open(home: Path) -> int:
    try:
        home.mkdir(parents=True, exist_ok=True)
        return os.open(home / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise PaperbotError(
                f"cannot write the library in {home}: the home is read-only (reading works; writing needs write access)"
            ) from None
        raise PaperbotError(f"cannot write the library in {home}: {exc.strerror or exc}") from None


def try_lock(handle: int) -> bool:
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
            return False
        raise
    return True


@contextlib.contextmanager
def writer_lock(home: Path, *, wait: bool = True, notify: Callable[[str], None] | None = None) -> Iterator[None]:
    """Held for one write run. `wait=False` fails at once with LibraryBusy when it is taken;
    otherwise `notify` hears once that this process waits, and the call blocks until it is free."""
    handle = _open(home)
    try:
        if not try_lock(handle):
            who = _holder(handle)
            if not wait:
                raise LibraryBusy(
                    f"another paperbot process ({who}) is writing to this library; "
                    "try again when it has finished, or run without --no-wait to wait for it"
                )
            if notify is not None:
                notify(f"waiting for another paperbot process ({who}) to finish writing to this library...")
            fcntl.flock(handle, fcntl.LOCK_EX)
        os.ftruncate(handle, 0)
        os.pwrite(handle, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(handle)  # closing releases the lock


def writer_active(home: Path) -> bool:
    """True when some process holds the lock now (probing takes and drops it at once)."""
    try:
        handle = os.open(home / LOCK_NAME, os.O_RDONLY)
    except OSError:
        return False
    try:
        if try_lock(handle):
            fcntl.flock(handle, fcntl.LOCK_UN)
            return False
        return True
    finally:
        os.close(handle)
