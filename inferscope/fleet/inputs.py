"""RANK_TRACES as the user wrote them (files, directories, globs) -> one path per rank.

A shell expands an unquoted glob itself; a quoted one (`'run/rank*.json.gz'`, which also gets past a command line
length limit at thousands of ranks) is expanded here. A directory contributes the traces directly inside it:
trace files by name and subdirectories that are traces themselves (bundles, parquetdir exports).
"""

from __future__ import annotations

import glob
from pathlib import Path

from ..errors import TraceInputError
from ..ingest.formats import detect

_TRACE_SUFFIXES = (
    ".json",
    ".json.gz",
    ".nsys-rep",
    ".qdrep",
    ".sqlite",
    ".sqlite.gz",
    ".arrows",
    ".arrows.gz",
)
_GLOB_CHARS = frozenset("*?[")


def is_glob(item: str | Path) -> bool:
    """Whether `item` is a pattern rather than a path that exists."""
    text = str(item)
    return bool(_GLOB_CHARS.intersection(text)) and not Path(text).exists()


def _directory(path: Path) -> list[Path]:
    out = []
    for child in sorted(path.iterdir()):
        if child.name.startswith("."):
            continue
        if child.is_file() and child.name.endswith(_TRACE_SUFFIXES):
            out.append(child)
        elif child.is_dir():
            try:
                detect(child)
            except TraceInputError:
                continue
            out.append(child)
    if not out:
        raise TraceInputError(f"{path}: no rank traces in this directory")
    return out


def _is_one_trace(path: Path) -> bool:
    """A directory that is one rank's trace (a bundle, an nsys parquetdir export), not a folder of ranks."""
    try:
        return detect(path) in ("bundle", "nsys-parquetdir")
    except TraceInputError:
        return False


def expand_inputs(items: list[str | Path]) -> list[Path]:
    """The per-rank trace paths `items` name, in order, each once."""
    out: list[Path] = []
    for item in items:
        if is_glob(item):
            matches = sorted(glob.glob(str(Path(str(item)).expanduser())))
            if not matches:
                raise TraceInputError(f"{item}: the pattern matches no file")
            found = [Path(m) for m in matches]
        else:
            p = Path(item).expanduser()
            if not p.exists():
                raise TraceInputError(f"{p}: no such file or directory")
            found = _directory(p) if p.is_dir() and not _is_one_trace(p) else [p]
        out.extend(f for f in found if f not in out)
    if not out:
        raise TraceInputError("no rank traces given")
    return out
