"""One cache entry: finding the entry for an opened trace, checking it is whole, and writing it.

Entries are written into a `.tmp-*` directory and renamed into place, so a failed or interrupted conversion leaves
nothing half-written. A trace that changes while it is being converted is not cached.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable

from .. import model
from ..errors import TraceInputError
from .cache_key import _files, _sample_key, _witness, _witness_unchanged, content_digest
from .cache_root import LAST_USED, MANIFEST, TMP_PREFIX, _is_entry, _read_manifest, remove_stale_tmp, resolve_root
from .parquet_footer import _Footer, parquet_facts
from .table_writer import write_tables

if TYPE_CHECKING:  # pyarrow is imported only to write an entry: a cache hit needs none of it
    import pyarrow as pa

MAX_WITNESSES = 16  # per entry; an entry opened from more places than this just costs a full hash now and then


# ------------------------------------------------------------------------------------------------ entry checks
#
# A cache entry can be damaged after it was written: a disk filled up, a sync tool copied half a file, someone
# deleted a table or edited the manifest. Such an entry used to fail every later run until it was removed by hand.
# Each entry's manifest records, per table, the Parquet file's size, row count and columns; every open compares
# them with the files (a stat each, and the Parquet footer: a few KB, no data pages), and a damaged entry is
# rebuilt. The footer is read by parquet_footer rather than with pyarrow because a cache hit loads no pyarrow at all.


def table_facts(directory: Path) -> dict[str, dict]:
    """parquet_facts of every model table in `directory` (recorded in the manifest when an entry is written)."""
    return {name: parquet_facts(directory / f"{name}.parquet") for name in model.TABLE_BY_NAME}


def damage(entry: Path, manifest: dict | None = None) -> str | None:
    """Why `entry` cannot be used (a short phrase), or None when its manifest and every table check out."""
    manifest = _read_manifest(entry) if manifest is None else manifest
    if not _is_entry(entry, manifest):
        return "its manifest is unreadable"
    recorded = manifest.get("tables")
    rows = manifest.get("rows") if isinstance(manifest.get("rows"), dict) else {}
    for name in model.TABLE_BY_NAME:
        file = entry / f"{name}.parquet"
        want = recorded.get(name) if isinstance(recorded, dict) else None
        try:
            if isinstance(want, dict) and file.stat().st_size != want.get("bytes"):
                return f"{file.name} has {file.stat().st_size} bytes, not {want.get('bytes')}"
            have = parquet_facts(file)
        except FileNotFoundError:
            return f"{file.name} is missing"
        except (OSError, _Footer, RecursionError) as exc:
            return f"{file.name} is unreadable ({exc})"
        if isinstance(want, dict):
            if have != want:
                return f"{file.name} does not match the manifest"
        elif name in rows and have["rows"] != rows[name]:  # written before entries recorded their tables
            return f"{file.name} has {have['rows']} rows, not {rows[name]}"
    return None


def _discard(entry: Path) -> None:
    """Remove a damaged entry; an entry that cannot be removed (read-only cache) raises OSError."""
    shutil.rmtree(entry, ignore_errors=True)
    if entry.exists():
        raise OSError(f"cannot remove the damaged cache entry {entry}")


def _report_damage(message: str) -> None:
    sys.stderr.write(f"inferscope: warning: {message}\n")
    sys.stderr.flush()


def _write_manifest(entry: Path, manifest: dict) -> None:
    tmp = entry / f"{TMP_PREFIX}{MANIFEST}.{os.getpid()}"
    tmp.write_text(json.dumps(manifest, indent=1))
    os.replace(tmp, entry / MANIFEST)


def _touch(entry: Path) -> None:
    """Record the use for `entries()` and `clear(older_than_days=...)`; a read-only cache still serves hits."""
    try:
        (entry / LAST_USED).touch()
    except OSError:
        pass


def _find(root: Path, sample: str, witness: dict, files: list[tuple[str, Path]]) -> tuple[Path | None, str | None]:
    """(entry, digest): the entry holding this content, and the full digest if it had to be computed."""
    if not root.is_dir():
        return None, None
    candidates = []
    for entry in sorted(root.glob(f"{sample}-*")):
        manifest = _read_manifest(entry)
        if manifest is None:
            continue
        if witness in manifest.get("witnesses", []):
            return entry, None
        candidates.append((entry, manifest))
    if not candidates:
        return None, None
    digest = content_digest(files)
    for entry, manifest in candidates:
        if manifest.get("content_sha256") == digest:
            if _witness_unchanged(witness, files):
                # ctime only moves forward, so an older witness of the same path can never match again
                kept = [w for w in manifest.get("witnesses", []) if w.get("path") != witness["path"]]
                manifest["witnesses"] = (kept + [witness])[-MAX_WITNESSES:]
                try:
                    _write_manifest(entry, manifest)
                except OSError:
                    pass  # a read-only cache: correct, only slower next time
            return entry, digest
    return None, digest


def _unreadable(root: Path, sample: str) -> list[Path]:
    """Entries of this sample whose manifest cannot be read: `_find` cannot tell whose they are, and one of them
    may sit where the rebuilt entry goes. Only names of the entry form (SAMPLE-16 hex digits) are considered."""
    if not root.is_dir():
        return []
    out = []
    for entry in sorted(root.glob(f"{sample}-*")):
        suffix = entry.name[len(sample) + 1 :]
        if entry.is_dir() and len(suffix) == 16 and all(c in "0123456789abcdef" for c in suffix):
            if not _is_entry(entry, _read_manifest(entry)):
                out.append(entry)
    return out


# ---------------------------------------------------------------------------------------------- lookup / store


def lookup(path: Path, cache_dir: str | Path | None = None) -> Path | None:
    """The cache entry holding `path`'s tables, or None."""
    root = resolve_root(cache_dir)
    files = _files(path, root)
    witness = _witness(path, files)
    entry, _ = _find(root, _sample_key(files), witness, files)
    return entry


def store(
    path: Path,
    cache_dir: str | Path | None,
    tables: "Iterable[tuple[str, pa.Table]]",
    fmt: str | None = None,
    *,
    _known: tuple | None = None,
) -> Path:
    """Write `tables` as the entry for `path` and return it. Raises OSError when the cache cannot be written and
    TraceInputError when the trace changed while `tables` were being read from it."""
    root = resolve_root(cache_dir)
    if _known is not None:
        files, witness, sample, digest = _known
    else:
        files = _files(path, root)
        witness = _witness(path, files)
        sample, digest = _sample_key(files), None
    created_root = not root.exists()
    root.mkdir(parents=True, exist_ok=True)
    remove_stale_tmp(root)
    tmp = Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{sample}-", dir=root))
    hashing = _Digest(files) if digest is None else None
    try:
        rows = write_tables(tmp, tables)
        if hashing is not None:
            digest = hashing.result()
        facts = table_facts(tmp)
        if not _witness_unchanged(witness, files):
            raise TraceInputError(
                f"{path}: the trace changed while it was being converted; run again once "
                "whatever writes it has finished"
            )
        key = f"{sample}-{digest[:16]}"
        manifest = {
            "key": key,
            "format": fmt,
            "model_version": model.MODEL_VERSION,
            "content_sha256": digest,
            "source": witness["path"],
            "witnesses": [witness],
            "created": time.time(),
            "rows": rows,
            "tables": facts,
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1))
        (tmp / LAST_USED).touch()
        final = root / key
        try:
            os.replace(tmp, final)
        except OSError:
            if final.is_dir() and damage(final) is not None:  # a damaged entry in the way: replace it
                _discard(final)
                os.replace(tmp, final)
            elif (final / MANIFEST).exists():  # another process won the race: use its entry
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                raise
        return final
    except BaseException:
        if hashing is not None:
            hashing.cancel()
        shutil.rmtree(tmp, ignore_errors=True)
        if created_root:
            try:
                root.rmdir()
            except OSError:
                pass
        raise


class _Digest:
    """The input's content digest, read and hashed on a thread of its own while the conversion runs (hashlib and
    file reads release the GIL); a failed conversion stops it at the next MiB instead of hashing on to the end."""

    def __init__(self, files: list[tuple[str, Path]]) -> None:
        self._stop = threading.Event()
        self._out: list = []
        self._thread = threading.Thread(target=self._run, args=(files,), name="inferscope-digest", daemon=True)
        self._thread.start()

    def _run(self, files: list[tuple[str, Path]]) -> None:
        try:
            self._out.append(content_digest(files, self._stop))
        except BaseException as exc:  # raised by result(), in the caller
            self._out.append(exc)

    def result(self) -> str:
        self._thread.join()
        out = self._out[0]
        if isinstance(out, BaseException):
            raise out
        return out

    def cancel(self) -> None:
        self._stop.set()
        self._thread.join()


def get_or_build(
    path: Path,
    build: "Callable[[], Iterable[tuple[str, pa.Table]]]",
    cache_dir: str | Path | None = None,
    use_cache: bool = True,
    fmt: str | None = None,
    on_damage: "Callable[[str], None] | None" = None,
) -> "tuple[Path | None, dict[str, pa.Table] | None]":
    """Return (cache entry, None) when cached (building the entry on a miss), or (None, tables) when use_cache
    is False. A damaged entry is removed and rebuilt; `on_damage` gets one line saying so (default: stderr)."""
    if not use_cache:
        from ..ingest import whole

        return None, {name: whole(table) for name, table in build()}
    root = resolve_root(cache_dir)
    try:
        files = _files(path, root)
        witness = _witness(path, files)
        sample = _sample_key(files)
    except OSError as exc:  # the trace, not the cache: say so rather than blame the cache directory
        raise TraceInputError(f"{path}: cannot read the trace ({exc.strerror or exc}); check its permissions") from exc
    hit, digest = _find(root, sample, witness, files)
    report = on_damage or _report_damage
    if hit is not None:
        why = damage(hit)
        if why is None:
            _touch(hit)
            return hit, None
        report(f"the cache entry {hit} was damaged ({why}); rebuilding it")
        _discard(hit)
    for entry in _unreadable(root, sample):
        report(f"the cache entry {entry} was damaged (its manifest is unreadable); rebuilding it")
        _discard(entry)
    return store(path, cache_dir, build(), fmt, _known=(files, witness, sample, digest)), None
