"""The model tables of an nsys export, whichever form it takes: SQLite, Arrow streams or a parquetdir, each
possibly gzip-compressed, or a `.nsys-rep` exported with the local nsys first. A bundle's report is one of these."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

if TYPE_CHECKING:
    import pyarrow as pa

NSYS_FORMATS = ("nsys-sqlite", "nsys-parquetdir", "nsys-arrow", "nsys-rep", "nsys-sqlite-gz", "nsys-arrow-gz")


def iter_nsys(
    path: Path, fmt: str, step: Callable[[str], None]
) -> "Iterator[tuple[str, pa.Table | pa.RecordBatchReader]]":
    """Model tables of the nsys export `path` (format `fmt`, one of NSYS_FORMATS) one at a time: they stream, so
    the cache can write each table as it comes and large traces never sit in memory whole. A table may come as a
    RecordBatchReader (the GPU metric samples), to be consumed before the next one is asked for (`whole`)."""
    if fmt in ("nsys-sqlite-gz", "nsys-arrow-gz"):
        from .compressed import inflated

        step("decompressing")
        with inflated(path, ".sqlite" if fmt == "nsys-sqlite-gz" else ".arrows") as plain:
            yield from iter_nsys(plain, fmt.removesuffix("-gz"), step)
        return
    if fmt in ("nsys-sqlite", "nsys-parquetdir", "nsys-arrow"):
        from . import nsys, nsys_raw

        if fmt == "nsys-parquetdir":
            read, close = (lambda name: nsys_raw.read_parquet_table(path, name)), (lambda: None)
            batches = lambda name: nsys_raw.parquet_table_batches(path, name)  # noqa: E731
            count = lambda name: nsys_raw.parquet_table_rows(path, name)  # noqa: E731
        else:
            reader = nsys_raw.SqliteReader(path) if fmt == "nsys-sqlite" else nsys_raw.ArrowStreamsReader(path)
            read, close, batches = reader, reader.close, reader.batches
            count = getattr(reader, "count", None)  # the Arrow streams say their row counts only when decoded
        try:
            for name, table in nsys.iter_convert(read, fmt, batches, count):
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
            for name, table in iter_nsys(exported, "nsys-" + exported_fmt, step):
                yield name, (_exported_meta(table, exported_fmt) if name == "trace_meta" else table)
        return
    raise ValueError(f"{fmt} is not an nsys format")


def whole(table: "pa.Table | pa.RecordBatchReader") -> "pa.Table":
    """A table `iter_nsys` yields, read whole if it came as a stream (the GPU metric samples)."""
    import pyarrow as pa

    return table.read_all() if isinstance(table, pa.RecordBatchReader) else table


def _exported_meta(meta: "pa.Table", exported_fmt: str) -> "pa.Table":
    import pyarrow as pa

    rows = meta.to_pylist()
    for row in rows:
        if row["key"] == "source_format":
            row["value"] = f"nsys-rep (exported as {exported_fmt})"
    return pa.Table.from_pylist(rows, schema=meta.schema)
