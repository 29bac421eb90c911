"""The one way VSION writes a file that others read: atomically.

A temporary file is written in the same folder (a unique name, so two writers never share it),
flushed and fsynced, renamed over the target, and the folder entry is fsynced, so a reader (or a
restart after a power cut) sees the old file or the new one, never half of one. On any error the
temporary file is removed and the target is left as it was.
"""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any


def fsync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (best effort: some file systems refuse to sync a folder)."""
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, binary: bool = False, mode: int | None = None) -> Iterator[IO[Any]]:
    """Yield a file to write ``path``'s new content into; it replaces ``path`` when the block ends.

    Text files are UTF-8 with no newline translation. ``mode`` (e.g. ``0o600``) sets the
    permissions of the new file before anything is written into it. OSError propagates (the
    caller turns it into its own one-line error). Thread-safe for distinct targets.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        if mode is not None:
            os.fchmod(fd, mode)
        with open(fd, "wb") if binary else open(fd, "w", encoding="utf-8", newline="") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_folder(path.parent)


def write_text(path: str | os.PathLike, text: str, mode: int | None = None) -> None:
    """Replace ``path`` with ``text`` atomically (see :func:`atomic_write`)."""
    with atomic_write(path, mode=mode) as fh:
        fh.write(text)


def write_bytes(path: str | os.PathLike, data: bytes, mode: int | None = None) -> None:
    """Replace ``path`` with ``data`` atomically (see :func:`atomic_write`)."""
    with atomic_write(path, binary=True, mode=mode) as fh:
        fh.write(data)


def write_json(path: str | os.PathLike, data: Any, mode: int | None = None) -> None:
    """Replace ``path`` with ``data`` as indented UTF-8 JSON, atomically. ``data`` must be plain
    JSON (dicts, lists, str, numbers, bools, None); NaN is refused."""
    write_text(path, json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n", mode)
