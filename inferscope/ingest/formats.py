"""Which trace format a path holds: by content where possible (SQLite and Arrow magic bytes, gzip/JSON for Kineto,
the same magic inside a gzip stream for compressed exports), by directory layout for parquetdir exports, bundles
and Kineto rank directories, and by suffix for `.nsys-rep`. Loads nothing heavy: a cache hit needs only this."""

from __future__ import annotations

from pathlib import Path

from ..errors import TraceInputError

SQLITE_MAGIC = b"SQLite format 3\x00"
GZIP_MAGIC = b"\x1f\x8b"
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
            (path / "StringIds.parquet").exists()
            or any(path.glob("CUPTI_ACTIVITY_KIND_*.parquet"))
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
    if head.startswith(GZIP_MAGIC):
        from .compressed import inner_head

        inner = inner_head(path)
        if inner.startswith(SQLITE_MAGIC):
            return "nsys-sqlite-gz"
        if inner.startswith(ARROW_STREAM_MAGIC):
            return "nsys-arrow-gz"
        return "kineto"
    if head.lstrip()[:1] in (b"{", b"["):
        return "kineto"
    raise TraceInputError(
        f"{path}: not a trace InferScope can read (expected .nsys-rep, an nsys .sqlite/.arrows/parquetdir export, "
        "an InferScope bundle, or a PyTorch profiler .json/.json.gz; exports may be gzip-compressed)"
    )
