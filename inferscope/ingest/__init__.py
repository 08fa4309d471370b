"""Stage 2, ingest: any supported trace input -> the trace model's tables (Arrow tables keyed by model table name).

`formats` recognises the input (by content where it can), `nsys_files` streams the tables of an nsys export in
whatever form, `kineto` reads PyTorch profiler traces, `bundle` an `inferscope record` bundle. May import the
ground modules (`inferscope.model`, `errors`, `redact`, `resources`, `annotate`) and `recorders`; submodules
import each other, never this package's `__init__`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

from ..errors import TraceInputError
from .formats import ARROW_STREAM_MAGIC, GZIP_MAGIC, REP_SUFFIXES, SQLITE_MAGIC, detect
from .nsys_files import NSYS_FORMATS, iter_nsys, whole

if TYPE_CHECKING:  # detecting a format (all a cache hit needs) must not load pyarrow
    import pyarrow as pa

__all__ = [
    "ARROW_STREAM_MAGIC",
    "GZIP_MAGIC",
    "REP_SUFFIXES",
    "SQLITE_MAGIC",
    "detect",
    "iter_tables",
    "load",
    "whole",
]


def load(path: Path, fmt: str | None = None, step: Callable[[str], None] | None = None) -> "dict[str, pa.Table]":
    """All model tables of `path` in memory, with the model's plain column types (`iter_tables` may hand string
    columns on dictionary-encoded)."""
    from .. import model

    return {name: model.plain(whole(table)) for name, table in iter_tables(path, fmt, step)}


def iter_tables(
    path: Path, fmt: str | None = None, step: Callable[[str], None] | None = None
) -> "Iterator[tuple[str, pa.Table | pa.RecordBatchReader]]":
    """Model tables of `path` one at a time (nsys exports and Kineto traces stream, so the cache can write each
    table as it comes and large traces never sit in memory whole). The GPU metric samples come as a RecordBatchReader, to be read
    before the next table is asked for (`whole` reads one into a table)."""
    fmt = fmt or detect(path)
    step = step or (lambda _msg: None)
    if fmt in NSYS_FORMATS:
        yield from iter_nsys(path, fmt, step)
        return
    if fmt in ("kineto", "kineto-dir"):
        from . import kineto

        step("reading PyTorch profiler trace")
        yield from kineto.iter_tables(path)
        return
    yield from _load_whole(path, fmt, step).items()


def _load_whole(path: Path, fmt: str, step: Callable[[str], None]) -> "dict[str, pa.Table]":
    if fmt == "bundle":
        from . import bundle

        return bundle.load(path, step)
    raise TraceInputError(f"{path}: unsupported format {fmt}")
