"""Writing a conversion's model tables into a cache entry, as Parquet, while the next table is being converted.

Why a writer thread: a conversion hands over its tables one at a time, and the Parquet encoding of each (pyarrow,
which releases the GIL) used to run between them, on the one core the conversion was not using. At 1M kernels and
5M NVTX ranges that was 4 s of a 15 s conversion. Now one thread encodes table N (or batch N of a streamed table)
while the conversion builds table N+1 on the calling thread.

At most one write is outstanding: before the next one is handed over, the previous one is waited for. So memory
holds at most one table being written beside the one being built, the order of work inside each file is the order
of the batches, and an error in the writer (a full disk) is raised in the caller at its next hand-over, before
anything else is built. A streamed table (a RecordBatchReader) is still read to its end before the next table is
asked for, as the converters require.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable

from .. import model

if TYPE_CHECKING:
    import pyarrow as pa

# Rows per Parquet row group: pyarrow's default (1Mi rows), unless the rows are so wide that a row group would
# exceed about this many bytes once its strings are decoded for writing.
_ROW_GROUP_BYTES = 64 << 20


class _OneAhead:
    """A single writer thread with at most one job outstanding."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="inferscope-parquet")
        self._pending: Future | None = None

    def submit(self, job: Callable[[], None]) -> None:
        self.wait()
        self._pending = self._pool.submit(job)

    def wait(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()  # the writer's error, raised here

    def settle(self) -> None:
        """Wait for the outstanding job without raising its error: for a caller already on its way out with one."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.exception()

    def close(self) -> None:
        self.settle()
        self._pool.shutdown(wait=True)


def write_tables(directory: Path, tables: "Iterable[tuple[str, pa.Table]]") -> dict[str, int]:
    """Write each (name, table) as it arrives; model tables the source did not produce are written empty. The
    row counts per table."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows: dict[str, int] = {}
    writer = _OneAhead()
    try:
        for name, table in tables:
            if isinstance(table, pa.RecordBatchReader):  # streamed (GPU metric samples, NVTX ranges): batch by batch
                rows[name] = _write_stream(writer, directory / f"{name}.parquet", name, table)
                continue
            # store_schema=False: dictionary-encoded string columns are written as Parquet's own dictionary-encoded
            # strings and read back as plain strings, the model's type
            table = model.conform(name, table)
            rows[name] = table.num_rows
            writer.submit(_table_job(table, directory / f"{name}.parquet"))
            del table
        writer.wait()
    finally:
        writer.close()
    for name in model.TABLE_BY_NAME:
        if name not in rows:
            pq.write_table(model.empty_table(name), directory / f"{name}.parquet", compression="zstd")
            rows[name] = 0
    return rows


def _table_job(table: "pa.Table", path: Path) -> Callable[[], None]:
    held = [table]  # handed over, so that the table is freed as soon as it is written

    def job() -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = held.pop()
        pq.write_table(table, path, compression="zstd", store_schema=False, **_layout(table))
        del table
        pa.default_memory_pool().release_unused()  # the table and the writer's buffers, before the next table

    return job


def _write_stream(writer: _OneAhead, path: Path, name: str, stream: "pa.RecordBatchReader") -> int:
    """Write a streamed model table one batch (one row group) at a time; returns its rows. The batches are read
    here, on the calling thread (that is where the converter's work happens), and encoded by the writer thread."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = 0
    out: list = []  # the ParquetWriter, opened by the first batch's job

    def job(table: "pa.Table") -> Callable[[], None]:
        def write() -> None:
            if not out:
                layout = {k: v for k, v in _layout(table).items() if k != "row_group_size"}
                out.append(pq.ParquetWriter(path, table.schema, compression="zstd", store_schema=False, **layout))
            out[0].write_table(table)

        return write

    try:
        for batch in stream:
            table = model.conform(name, pa.Table.from_batches([batch]))
            del batch
            rows += table.num_rows
            writer.submit(job(table))
            del table
        writer.wait()
    except BaseException:
        writer.settle()  # no job may still be writing into the file being closed
        if out:
            try:
                out[0].close()
            except Exception:  # noqa: S110 (the error already raised says what went wrong; the file is discarded)
                pass
        raise
    if out:
        out[0].close()
    else:
        pq.write_table(model.empty_table(name), path, compression="zstd")
    pa.default_memory_pool().release_unused()
    return rows


def _layout(table: "pa.Table") -> dict:
    """Parquet writer options for one model table.

    Integer columns (times, ids, counts) are delta-packed: the dictionary pyarrow tries first gives up on times and
    ids, and at 1M kernels delta-packing wrote kernels, API calls and NVTX ranges in 1.4 s instead of 1.9, and DuckDB
    read them back about 15 % faster.

    A dictionary goes to every other column but dictionary columns whose distinct values are most of their rows
    (NVTX names built from request ids or prompts): for those it saves nothing, and the writer's attempt at one
    held three copies of the strings at once. Those columns are written plain, which decodes them a row group at a
    time, so row groups of wide rows are kept to about _ROW_GROUP_BYTES."""
    import pyarrow as pa

    dictionary, delta, wide_bytes = [], {}, 0
    for spec, column in zip(table.schema, table.columns):
        if pa.types.is_integer(spec.type):
            delta[spec.name] = "DELTA_BINARY_PACKED"
            continue
        if pa.types.is_dictionary(spec.type) and column.num_chunks:
            distinct = max(len(c.dictionary) for c in column.chunks)
            if distinct > 1024 and 2 * distinct > len(column):
                wide_bytes += sum(c.dictionary.nbytes for c in column.chunks)
                continue
        dictionary.append(spec.name)
    options: dict = {"use_dictionary": dictionary, "column_encoding": delta}
    if wide_bytes > _ROW_GROUP_BYTES and table.num_rows:
        options["row_group_size"] = max(1024, int(table.num_rows * _ROW_GROUP_BYTES / wide_bytes))
    return options
