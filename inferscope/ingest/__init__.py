"""Turn any supported trace input into the model's tables (dict of Arrow tables keyed by model table name).

Formats are recognised by content where possible (SQLite and Arrow magic bytes, gzip/JSON for Kineto), by
directory layout for parquetdir exports, bundles and Kineto rank directories, and by suffix for `.nsys-rep`.
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

from ..errors import TraceInputError

if TYPE_CHECKING:  # detecting a format (all a cache hit needs) must not load pyarrow
    import pyarrow as pa

SQLITE_MAGIC = b"SQLite format 3\x00"
ARROW_STREAM_MAGIC = b"\xff\xff\xff\xff"
REP_SUFFIXES = (".nsys-rep", ".qdrep")


def detect(path: Path) -> str:
    """Return the format name of `path` or raise TraceInputError with what to do."""
    if not path.exists():
        raise TraceInputError(f"{path}: no such file or directory")
    if path.is_dir():
        if (path / "manifest.json").exists():
            return "bundle"
        if any(path.glob("*.parquet")) and (
            (path / "StringIds.parquet").exists() or any(path.glob("CUPTI_ACTIVITY_KIND_*.parquet"))
            or (path / "META_DATA_EXPORT.parquet").exists()
        ):
            return "nsys-parquetdir"
        if any(p.name.endswith((".json", ".json.gz")) for p in path.iterdir()):
            return "kineto-dir"
        raise TraceInputError(
            f"{path}: directory holds no trace (expected an InferScope bundle, an nsys parquetdir export or "
            "Kineto *.json[.gz] files)"
        )
    if path.stat().st_size == 0:
        raise TraceInputError(f"{path}: file is empty; re-export or re-record the trace")
    with path.open("rb") as f:
        head = f.read(16)
    if head.startswith(SQLITE_MAGIC):
        return "nsys-sqlite"
    if path.name.endswith(REP_SUFFIXES):
        return "nsys-rep"
    if head.startswith(ARROW_STREAM_MAGIC) or path.suffix in (".arrows", ".arrow"):
        return "nsys-arrow"
    if head.startswith(b"\x1f\x8b") or head.lstrip()[:1] in (b"{", b"["):
        return "kineto"
    raise TraceInputError(
        f"{path}: not a trace InferScope can read (expected .nsys-rep, an nsys .sqlite/.arrows/parquetdir export, "
        "an InferScope bundle, or a PyTorch profiler .json/.json.gz)"
    )


def load(path: Path, fmt: str | None = None, step: Callable[[str], None] | None = None) -> "dict[str, pa.Table]":
    """All model tables of `path` in memory, with the model's plain column types (`iter_tables` may hand string
    columns on dictionary-encoded)."""
    from .. import model

    return {name: model.plain(table) for name, table in iter_tables(path, fmt, step)}


def iter_tables(path: Path, fmt: str | None = None,
                step: Callable[[str], None] | None = None) -> "Iterator[tuple[str, pa.Table]]":
    """Model tables of `path` one at a time (nsys exports stream, so the cache can write each table as it comes
    and large traces never sit in memory whole)."""
    fmt = fmt or detect(path)
    step = step or (lambda _msg: None)
    if fmt in ("nsys-sqlite", "nsys-parquetdir", "nsys-arrow"):
        from . import nsys, nsys_raw

        if fmt == "nsys-parquetdir":
            read, close = (lambda name: nsys_raw.read_parquet_table(path, name)), (lambda: None)
        else:
            reader = nsys_raw.SqliteReader(path) if fmt == "nsys-sqlite" else nsys_raw.ArrowStreamsReader(path)
            read, close = reader, reader.close
        try:
            for name, table in nsys.iter_convert(read, fmt):
                step(f"converted {name}")
                yield name, table
        finally:
            close()
        return
    if fmt == "nsys-rep":
        from . import nsys_rep

        # the export lives in a temporary directory for as long as its tables are being converted
        with tempfile.TemporaryDirectory(prefix="inferscope-export-") as tmp:
            step("exporting .nsys-rep with the local nsys")
            exported_fmt, exported = nsys_rep.export(path, Path(tmp))
            for name, table in iter_tables(exported, "nsys-" + exported_fmt, step):
                yield name, (_exported_meta(table, exported_fmt) if name == "trace_meta" else table)
        return
    yield from _load_whole(path, fmt, step).items()


def _exported_meta(meta: "pa.Table", exported_fmt: str) -> "pa.Table":
    import pyarrow as pa

    rows = meta.to_pylist()
    for row in rows:
        if row["key"] == "source_format":
            row["value"] = f"nsys-rep (exported as {exported_fmt})"
    return pa.Table.from_pylist(rows, schema=meta.schema)


def _load_whole(path: Path, fmt: str, step: Callable[[str], None]) -> "dict[str, pa.Table]":
    if fmt in ("kineto", "kineto-dir"):
        from . import kineto

        step("reading PyTorch profiler trace")
        return kineto.load(path)
    if fmt == "bundle":
        from . import bundle

        return bundle.load(path, step)
    raise TraceInputError(f"{path}: unsupported format {fmt}")
