"""Writing user-visible output files: all or nothing.

A report or export is written to a temporary file beside its destination and renamed into place, so a crash,
Ctrl-C or full disk never leaves a half-written file that a CI step would then upload or a browser would open.
"""

from __future__ import annotations

import errno
import os
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Iterator, Mapping

from .errors import InferScopeError


@contextmanager
def atomic_write(path: str | Path) -> Iterator[BinaryIO]:
    """Yield a binary file that becomes `path` only when the block finishes; mode 0666 less the umask, as open()
    would give it (mkstemp alone makes 0600, which a web server or a teammate could not read)."""
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
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(exc, OSError) and exc.errno in _STORAGE_ERRORS:  # the disk's state, not a bug: say so
            raise InferScopeError(
                f"cannot write {out}: {exc.strerror or exc}; nothing was written there; free space or write "
                "to another place"
            ) from exc
        raise


# Failures of the storage itself (full, over quota, read-only, file too large), which the user can act on.
_STORAGE_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG}


def human_size(n: int) -> str:
    """Bytes as a person reads them (binary units, as `ls -h` and file managers count)."""
    if n < 1024:
        return f"{n} B"
    size = n / 1024
    for unit in ("KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            break
        size /= 1024
    return f"{size:.1f} {unit}" if size < 10 else f"{size:.0f} {unit}"


def say_written(path: str | Path) -> None:
    """`wrote PATH (312 KB)` on stderr, once the file is in place: stdout may be a pipe a script parses, and the
    size tells at a glance whether a report came out empty or huge."""
    out = Path(path)
    try:
        size = human_size(out.stat().st_size)
    except OSError:
        size = "size unknown"
    sys.stderr.write(f"wrote {out} ({size})\n")
    sys.stderr.flush()


def write_text(path: str | Path, text: str) -> None:
    """What every command's -o does: `text` (UTF-8) to `path` (~ expanded) all or nothing, then `wrote PATH
    (size)` on stderr, so that the commands cannot drift apart in how they write or what they say."""
    out = Path(path).expanduser()
    with atomic_write(out) as fh:
        fh.write(text.encode("utf-8"))
    say_written(out)


def format_for_suffix(path: str | Path, suffixes: Mapping[str, str], option: str = "-o") -> str:
    """The format a file name asks for; an unknown suffix is refused (listing the known ones) rather than
    silently written as some default format under a misleading name."""
    suffix = Path(path).suffix.lower()
    if suffix in suffixes:
        return suffixes[suffix]
    shown = f"unknown suffix {suffix!r}" if suffix else "no suffix"
    known = sorted(suffixes)
    raise InferScopeError(
        f"{option} {path}: {shown}; end the name in {', '.join(known[:-1])} or {known[-1]}, or give the format with -f"
    )
