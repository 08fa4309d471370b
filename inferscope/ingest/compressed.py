"""Gzip-compressed exports (`run.sqlite.gz`, `run.arrows.gz`): traces are shared and archived compressed, and a
user should not have to unpack one by hand to look at it.

SQLite and the Arrow reader need a real, seekable file, so the export is inflated into a temporary file that
lives only while its tables are converted (the cache keeps the converted tables, keyed by the .gz itself, so a
warm run never inflates again). Temporary files honour TMPDIR.
"""

from __future__ import annotations

import gzip
import shutil
import tempfile
import zlib
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from ..errors import TraceInputError


def inner_head(path: Path, size: int = 16) -> bytes:
    """The first bytes of the decompressed stream: enough to tell a SQLite or Arrow export from Kineto JSON."""
    try:
        with gzip.open(path, "rb") as f:
            return f.read(size)
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise TraceInputError(f"{path}: truncated or corrupt gzip file ({exc}); re-copy or re-compress it") from exc


@contextmanager
def inflated(path: Path, suffix: str) -> Iterator[Path]:
    """A temporary uncompressed copy of `path`, removed on exit whatever happens."""
    with tempfile.TemporaryDirectory(prefix="inferscope-gunzip-") as tmp:
        target = Path(tmp) / (path.name.removesuffix(".gz") if path.name.endswith(".gz") else path.name + suffix)
        try:
            with gzip.open(path, "rb") as src, target.open("wb") as dst:
                shutil.copyfileobj(src, dst, length=4 << 20)
        except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
            raise TraceInputError(f"{path}: truncated or corrupt gzip file ({exc}); re-copy or re-compress it") from exc
        except OSError as exc:
            raise TraceInputError(
                f"{path}: cannot decompress into {tmp} ({exc.strerror or exc}); free space "
                "there or point TMPDIR at a larger disk"
            ) from exc
        yield target
