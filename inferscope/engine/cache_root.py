"""Where the cache lives, what is in it, and how it is cleared: the part `inferscope cache` needs.

Where. One directory per user, never beside the input: traces often sit in shared or read-only folders, and
running as root made every folder look writable, so the old `TRACE.inferscope/` sibling littered them. The root is,
first match wins: the `cache_dir` argument (`--cache-dir`); the `INFERSCOPE_CACHE_DIR` environment variable; the
platform's user cache directory + `inferscope` ($XDG_CACHE_HOME or ~/.cache on Linux and other Unixes,
~/Library/Caches on macOS, %LOCALAPPDATA%\\inferscope\\Cache on Windows). Nothing is written beside a trace unless
the caller names such a directory, or asks `clear()` to remove an old-style `TRACE.inferscope/` sibling.

Listing and clearing read only manifests and file sizes, never the tables, so they stay cheap however large the
cache is. Nothing is deleted that does not name itself an InferScope entry (`_is_entry`). `.tmp-*` directories
left by killed conversions are removed once they are an hour old.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from .. import model
from ..errors import InferScopeError
from .cache_key import _files, _sample_key

ENV_VAR = "INFERSCOPE_CACHE_DIR"
MANIFEST = "manifest.json"
LAST_USED = "last-used"
TMP_PREFIX = ".tmp-"
STALE_TMP_SECONDS = 3600
_DAY = 86400.0


class CacheError(InferScopeError):
    """A cache location or a `clear()` argument is unusable (the message says which and what to do)."""


# ---------------------------------------------------------------------------------------------------- location


def default_root() -> Path:
    """The platform's per-user cache directory + inferscope (see the module docstring for the order)."""
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or os.path.join(os.path.expanduser("~"), "AppData", "Local")
        return Path(base) / "inferscope" / "Cache"
    if sys.platform == "darwin":
        return Path(os.path.expanduser("~")) / "Library" / "Caches" / "inferscope"
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    # the XDG spec says a relative value is invalid and must be ignored
    base = xdg if xdg and os.path.isabs(xdg) else os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "inferscope"


def resolve_root(cache_dir: str | Path | None = None) -> Path:
    """The cache directory in use: `cache_dir`, else $INFERSCOPE_CACHE_DIR, else `default_root()`."""
    if cache_dir is not None and str(cache_dir) != "":
        return Path(cache_dir).expanduser()
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        return Path(env).expanduser()
    return default_root()


# ------------------------------------------------------------------------------------------------ list / clear


@dataclass
class Entry:
    """One cached trace, as `inferscope cache list` shows it."""

    path: Path
    source: str | None  # where the trace was last opened from
    format: str | None
    size_bytes: int
    last_used: float  # seconds since the epoch
    created: float | None = None
    model_version: str | None = None
    sources: list[str] = field(default_factory=list)

    @property
    def current(self) -> bool:
        """False for entries an older InferScope model wrote: they are never read again and can be cleared."""
        return self.model_version == model.MODEL_VERSION


def _tree_size(directory: Path) -> int:
    total = 0
    for f in directory.rglob("*"):
        try:
            if f.is_file():
                total += f.stat().st_size
        except OSError:
            pass
    return total


def _is_entry(directory: Path, manifest: dict | None) -> bool:
    """An InferScope cache entry names itself in its manifest. Checked before anything is deleted: a --cache-dir
    pointed at a folder of bundles (which also hold a manifest.json) must not lose them to `clear()`."""
    return isinstance(manifest, dict) and manifest.get("key") == directory.name and "rows" in manifest


def _read_manifest(entry: Path) -> dict | None:
    try:
        manifest = json.loads((entry / MANIFEST).read_text())
    except (OSError, ValueError):  # UnicodeDecodeError is a ValueError
        return None
    return manifest if isinstance(manifest, dict) else None


def _entry(directory: Path) -> Entry | None:
    manifest = _read_manifest(directory)
    if not _is_entry(directory, manifest):
        return None
    witnesses = manifest.get("witnesses") or []
    sources = list(dict.fromkeys(w.get("path") for w in witnesses if isinstance(w, dict) and w.get("path")))
    source = sources[-1] if sources else None
    if source is None and isinstance(manifest.get("source"), dict):  # written before entries had witnesses
        source = manifest["source"].get("path")
    elif source is None and isinstance(manifest.get("source"), str):
        source = manifest["source"]
    model_version = manifest.get("model_version")
    if model_version is None and isinstance(manifest.get("source"), dict):
        model_version = manifest["source"].get("model_version")
    try:
        last_used = (directory / LAST_USED).stat().st_mtime
    except OSError:
        last_used = (directory / MANIFEST).stat().st_mtime
    return Entry(
        path=directory,
        source=source,
        format=manifest.get("format"),
        size_bytes=_tree_size(directory),
        last_used=last_used,
        created=manifest.get("created"),
        model_version=model_version,
        sources=sources or ([source] if source else []),
    )


def entries(cache_dir: str | Path | None = None) -> list[Entry]:
    """Every entry in the cache, most recently used first."""
    root = _existing_root(cache_dir)
    if root is None:
        return []
    found = [e for d in root.iterdir() if d.is_dir() and not d.name.startswith(TMP_PREFIX) and (e := _entry(d))]
    return sorted(found, key=lambda e: e.last_used, reverse=True)


def _existing_root(cache_dir: str | Path | None) -> Path | None:
    """The cache root if it exists (None if nothing was cached yet); an error if it is not a directory."""
    root = resolve_root(cache_dir)
    if not root.exists():
        return None
    if not root.is_dir():
        raise CacheError(
            f"{root}: the cache location is not a directory; pass --cache-dir DIR or set {ENV_VAR} to a directory"
        )
    return root


def remove_stale_tmp(root: Path, max_age_s: float = STALE_TMP_SECONDS) -> list[tuple[Path, int]]:
    """Remove `.tmp-*` directories (conversions killed part-way) whose newest file is older than `max_age_s`;
    a running conversion writes a table file at least every few minutes, so an hour never catches a live one."""
    removed = []
    now = time.time()
    try:
        children = [d for d in root.iterdir() if d.name.startswith(TMP_PREFIX) and d.is_dir()]
    except OSError:
        return removed
    for d in children:
        try:
            newest = max([d.stat().st_mtime] + [f.stat().st_mtime for f in d.iterdir()])
        except OSError:
            continue
        if now - newest > max_age_s:
            size = _tree_size(d)
            shutil.rmtree(d, ignore_errors=True)
            if not d.exists():
                removed.append((d, size))
    return removed


def _legacy_sibling(trace: Path) -> Path | None:
    """An old-style `TRACE.inferscope/` beside `trace`, if it holds nothing but InferScope cache entries."""
    d = trace.parent / (trace.name + ".inferscope")
    if not d.is_dir():
        return None
    children = list(d.iterdir())
    if all(c.is_dir() and (c.name.startswith(TMP_PREFIX) or _is_entry(c, _read_manifest(c))) for c in children):
        return d
    return None


def clear(
    traces: Iterable[str | Path] = (), older_than_days: float | None = None, cache_dir: str | Path | None = None
) -> list[Entry]:
    """Remove cache entries and return them (with their sizes, i.e. what was freed).

    With no arguments everything goes. `traces` keeps to the entries of those traces: entries last opened from
    that path (even if the file is gone) and entries holding its current content (wherever it was opened from);
    an old-style `TRACE.inferscope/` beside a named trace is removed too, since naming the trace asks for it.
    `older_than_days` keeps to entries not used for that many days. Stale `.tmp-*` directories always go.
    """
    if older_than_days is not None and not (older_than_days >= 0):
        raise CacheError(f"--older-than {older_than_days}: expected a number of days, 0 or more")
    root = _existing_root(cache_dir) or resolve_root(cache_dir)
    traces = [Path(t).expanduser() for t in traces]
    removed: list[Entry] = []
    if root.is_dir():
        for d, size in remove_stale_tmp(root):
            removed.append(
                Entry(
                    path=d,
                    source=None,
                    format="unfinished",
                    size_bytes=size,
                    last_used=d.stat().st_mtime if d.exists() else 0.0,
                )
            )
    wanted_paths: set[str] = set()
    wanted_samples: set[str] = set()
    for t in traces:
        resolved = t.resolve()
        wanted_paths.add(str(resolved))
        if t.exists():
            from .. import ingest

            try:
                ingest.detect(t)  # only a real trace is read: `clear /` must not hash the whole disk
                wanted_samples.add(_sample_key(_files(t, root)))
            except (OSError, InferScopeError):
                pass
    cutoff = time.time() - older_than_days * _DAY if older_than_days is not None else None
    for e in entries(cache_dir):
        if cutoff is not None and e.last_used >= cutoff:
            continue
        if traces and not (wanted_paths & set(e.sources) or e.path.name.split("-")[0] in wanted_samples):
            continue
        shutil.rmtree(e.path, ignore_errors=True)
        if not e.path.exists():
            removed.append(e)
    for t in traces:
        legacy = _legacy_sibling(t.resolve())
        if legacy is None:
            continue
        if cutoff is not None and legacy.stat().st_mtime >= cutoff:
            continue
        size = _tree_size(legacy)
        shutil.rmtree(legacy, ignore_errors=True)
        if not legacy.exists():
            removed.append(
                Entry(
                    path=legacy,
                    source=str(t.resolve()),
                    format="old-style, beside the trace",
                    size_bytes=size,
                    last_used=0.0,
                )
            )
    return removed
