"""What a cache entry is keyed on, and how an opened trace is matched to one cheaply.

What shapes an entry. Only the trace's bytes and the model (`model.MODEL_VERSION`, bumped whenever a table changes
meaning). The cached tables are the ingest output, and ingest reads no configuration: step and phase patterns,
rule parameters and the compare gate are all applied later, at query time, over these tables. So the key holds no
configuration and a changed `inferscope.toml` or `INFERSCOPE_*` variable can never be served stale from here. If
an ingest option ever shapes the tables, it must join `_sample_key`.

Keying, and why it is cheap. Measured on a 500 MB file (2-CPU VM, 2026): stat 0.01 ms; reading the first and
last 64 KiB about 1 ms (3-9 ms from a cold disk); a full SHA-256 0.35-0.4 s from the page cache and 1.0-1.3 s from
disk. A warm `stats` on a 574 MB export takes 1.1-1.5 s, so a full hash on every open would nearly double it,
while the cold conversion it would save takes 13-18 s. Hence two levels:

- The entry's directory is `SAMPLE-DIGEST`. SAMPLE hashes the model version, each file's size (and relative name
  inside a directory input) and its first and last 64 KiB: it does not depend on the path, so a moved or copied
  trace still finds its entry. DIGEST is the start of the SHA-256 of the whole content, computed once when the
  entry is written, on a thread of its own beside the conversion (alone, about 7 % of it: 1.1 s at 1M kernels).
- An entry whose SAMPLE matches is used straight away only when the file's stat "witness" (resolved path, device,
  inode, size, mtime, ctime) is one the entry has already been verified against. Any write to a file changes its
  ctime, and ctime cannot be set by `touch`, `os.utime` or `cp -p`, so a same-size replacement with a forged mtime
  still changes the witness. An unseen witness (a moved, copied, touched or replaced trace) costs one full hash,
  compared with the entry's recorded digest: equal means the same bytes (the witness is added to the entry, so the
  next open is cheap again), different means a new entry is built beside the old one.

On Windows st_ctime is the creation time, which an in-place overwrite keeps; there an overwrite that preserves size,
mtime and the first and last 64 KiB would go unnoticed. Every other change is caught on every platform.
"""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path

from .. import model

SAMPLE_BYTES = 64 * 1024


def _files(path: Path, skip: Path | None = None) -> list[tuple[str, Path]]:
    """(name inside the input, file) for every file that makes up the input; a single file's name is "" so that
    renaming or moving it does not change its key. `skip` is a cache root inside a directory input."""
    if path.is_file():
        return [("", path)]
    skip_r = skip.resolve() if skip is not None else None
    out = []
    for f in sorted(path.rglob("*")):
        if not f.is_file():
            continue
        if skip_r is not None and (f.resolve() == skip_r or skip_r in f.resolve().parents):
            continue
        out.append((f.relative_to(path).as_posix(), f))
    return out


def _witness(path: Path, files: list[tuple[str, Path]]) -> dict:
    """Stat facts that change whenever the input's bytes may have (ctime included: it cannot be forged)."""
    parts = []
    for rel, f in files:
        st = f.stat()
        parts.append([rel, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns])
    return {"path": str(path.resolve()), "files": parts}


def _sample_key(files: list[tuple[str, Path]]) -> str:
    """Hash of the model version and each file's name, size, first and last SAMPLE_BYTES (whole file if small)."""
    h = hashlib.sha256(json.dumps(["inferscope-cache-2", model.MODEL_VERSION]).encode())
    for rel, f in files:
        size = f.stat().st_size
        h.update(json.dumps([rel, size]).encode())
        with f.open("rb") as fh:
            if size <= 2 * SAMPLE_BYTES:
                h.update(fh.read())
            else:
                h.update(fh.read(SAMPLE_BYTES))
                fh.seek(size - SAMPLE_BYTES)
                h.update(fh.read(SAMPLE_BYTES))
    return h.hexdigest()[:20]


def content_digest(files: list[tuple[str, Path]], stop: threading.Event | None = None) -> str | None:
    """SHA-256 of every byte of the input (with file names and sizes for directory inputs); None when `stop` is
    set before the end (a conversion that failed no longer needs it)."""
    h = hashlib.sha256()
    buf = bytearray(1 << 20)
    view = memoryview(buf)
    for rel, f in files:
        h.update(json.dumps([rel, f.stat().st_size]).encode())
        with f.open("rb", buffering=0) as fh:
            while n := fh.readinto(buf):
                if stop is not None and stop.is_set():
                    return None
                h.update(view[:n])
    return h.hexdigest()


def _witness_unchanged(witness: dict, files: list[tuple[str, Path]]) -> bool:
    try:
        return _witness(Path(witness["path"]), files) == witness
    except OSError:
        return False
