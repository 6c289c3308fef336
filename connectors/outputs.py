"""Files the CLI writes for the user (summarize's Markdown and BibTeX): checked together
before anything is written, then each written whole or not at all.

- an existing file is kept unless `force` is given;
- one path given for two outputs is refused (one would clobber the other);
- `-` means standard output;
- each file is written to a temporary file beside it and renamed over the target, so a full
  disk or an interrupted run leaves the old file (or none), never half of a new one.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from assistant.errors import PaperbotError

STDOUT = Path("-")


@dataclass(frozen=True)
class Output:
    option: str  # as the user typed it, for messages: "-o", "--bib"
    path: Path
    text: str


def check_outputs(outputs: list[Output], force: bool) -> None:
    """Every problem found before the first byte is written."""
    seen: dict[Path, str] = {}
    for output in outputs:
        key = output.path if output.path == STDOUT else output.path.resolve()
        if key in seen:
            raise PaperbotError(f"{output.option} and {seen[key]} name the same file {output.path}; give two paths")
        seen[key] = output.option
        if output.path == STDOUT:
            continue
        if output.path.is_dir():
            raise PaperbotError(f"{output.option} {output.path} is a folder; give a file name")
        if output.path.exists() and not force:
            raise PaperbotError(f"{output.path} exists; pass --force to overwrite it")


def write_outputs(outputs: list[Output], force: bool) -> None:
    check_outputs(outputs, force)
    for output in outputs:
        if output.path == STDOUT:
            sys.stdout.write(output.text)
            sys.stdout.flush()
        else:
            write_atomically(output.path, output.text)


def write_atomically(path: Path, text: str) -> None:
    """The whole text under `path`, or an error and `path` as it was."""
    try:
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise PaperbotError(f"cannot write {path}: {exc.strerror}") from None
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())  # on disk before the rename makes it the file
        os.chmod(temporary, 0o666 & ~_umask())  # mkstemp makes 0600; the user expects a normal file
        os.replace(temporary, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise PaperbotError(f"cannot write {path}: {exc.strerror or type(exc).__name__}") from None


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
