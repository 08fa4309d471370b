"""The Parquet cache of converted traces.

Converting an export is the slow part (seconds for a large trace); querying the Parquet is milliseconds. The cache
lives beside the trace (`TRACE.inferscope/`) or under --cache-dir, falls back to the user cache directory when
the trace's directory is read-only, and is keyed by the source file's identity (path, size, mtime) and the
model version, so an edited or re-exported trace, or a new InferScope model, never reads stale tables.
Entries are written into a temporary directory and renamed into place, so a failed or interrupted conversion
leaves nothing half-written.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable

from . import model

if TYPE_CHECKING:  # pyarrow is imported only to write an entry: a cache hit needs none of it
    import pyarrow as pa

MANIFEST = "manifest.json"


def source_identity(path: Path) -> dict:
    path = path.resolve()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    parts = []
    for f in files:
        st = f.stat()
        parts.append([str(f.relative_to(path)) if f != path else f.name, st.st_size, st.st_mtime_ns])
    return {"path": str(path), "files": parts, "model_version": model.MODEL_VERSION}


def cache_key(identity: dict) -> str:
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:20]


def user_cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "inferscope"


def candidate_roots(path: Path, cache_dir: Path | None) -> list[Path]:
    if cache_dir is not None:
        return [cache_dir]
    resolved = path.resolve()
    return [resolved.parent / (resolved.name + ".inferscope"), user_cache_root()]


def _writable(root: Path) -> bool:
    probe = root
    while not probe.exists():
        probe = probe.parent
    return os.access(probe, os.W_OK)


def lookup(path: Path, cache_dir: Path | None) -> Path | None:
    key = cache_key(source_identity(path))
    for root in candidate_roots(path, cache_dir):
        entry = root / key
        if (entry / MANIFEST).exists():
            return entry
    return None


def store(path: Path, cache_dir: Path | None, tables: "Iterable[tuple[str, pa.Table]]") -> Path:
    identity = source_identity(path)
    key = cache_key(identity)
    roots = [r for r in candidate_roots(path, cache_dir) if _writable(r)]
    if not roots:
        raise OSError(f"no writable cache directory among {candidate_roots(path, cache_dir)}; pass --cache-dir")
    root = roots[0]
    created_root = not root.exists()
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{key}-", dir=root))
    try:
        rows = write_tables(tmp, tables)
        (tmp / MANIFEST).write_text(json.dumps({"key": key, "source": identity, "rows": rows}, indent=1))
        final = root / key
        try:
            os.replace(tmp, final)
        except OSError:
            if (final / MANIFEST).exists():  # another process won the race: use its entry
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                raise
        return final
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if created_root:
            try:
                root.rmdir()
            except OSError:
                pass
        raise


def write_tables(directory: Path, tables: "Iterable[tuple[str, pa.Table]]") -> dict[str, int]:
    """Write each (name, table) as it arrives; model tables the source did not produce are written empty."""
    import pyarrow.parquet as pq

    rows: dict[str, int] = {}
    for name, table in tables:
        # store_schema=False: dictionary-encoded string columns are written as Parquet's own dictionary-encoded
        # strings and read back as plain strings, the model's type
        pq.write_table(model.conform(name, table), directory / f"{name}.parquet", compression="zstd",
                       store_schema=False)
        rows[name] = table.num_rows
    for name in model.TABLE_BY_NAME:
        if name not in rows:
            pq.write_table(model.empty_table(name), directory / f"{name}.parquet", compression="zstd")
            rows[name] = 0
    return rows


def get_or_build(path: Path, build: "Callable[[], Iterable[tuple[str, pa.Table]]]", cache_dir: Path | None = None,
                 use_cache: bool = True) -> "tuple[Path | None, dict[str, pa.Table] | None]":
    """Return (cache entry, None) when cached, or (None, tables) when use_cache is False."""
    if not use_cache:
        return None, dict(build())
    hit = lookup(path, cache_dir)
    if hit is not None:
        return hit, None
    return store(path, cache_dir, build()), None
