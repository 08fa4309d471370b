"""Writing user-visible output files: all or nothing.

A report or export is written to a temporary file beside its destination and renamed into place, so a crash,
Ctrl-C or full disk never leaves a half-written file that a CI step would then upload or a browser would open.
"""
from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Iterator

from .errors import InferScopeError


@contextmanager
def atomic_write(path: str | Path) -> Iterator[BinaryIO]:
    out = Path(path)
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise InferScopeError(f"{parent}: no such directory to write {out.name} in")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=parent)
    except OSError as exc:
        raise InferScopeError(f"cannot write {out}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, out)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
