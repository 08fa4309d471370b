"""NVTX_EVENTS of a large export converted without holding the table, or the ranges made from it, in memory.

A long serving run or a 10M-kernel training window carries tens of millions of NVTX ranges: x3000 tiles of the
bundled sample hold 50 M, and converting them whole (the raw table, DuckDB's transform of it and the nesting's
arrays side by side) peaked at 11.4 GB. Past `STREAM_ROWS` rows the conversion goes instead:

1. the raw table is read batch by batch, each batch checked (`check_times`) and given its string ids and row
   positions as in the whole path, and written to a temporary Parquet file;
2. `nvtx_marks.sql` and `nvtx_ranges.sql` run over that file unchanged, DuckDB sorting the ranges into the
   nesting's pre-order under its memory cap (it spills);
3. the sorted ranges are nested batch by batch (`nesting.nest_sorted`) and handed on as a stream, which the
   cache writes one row group at a time.

Every value equals the whole path's (tests/test_nvtx_stream.py compares the two on real exports); only the
stored row order differs: ranges are grouped by thread and sorted by start, where the whole path keeps the
export's order. Readers of `nvtx_ranges` order by what they need.
"""

from __future__ import annotations

import tempfile
from typing import Callable, Iterable, Iterator

import pyarrow as pa

from .. import duckdb_conn, model
from ..resources import read_sql
from . import nesting
from .read_ahead import read_ahead

# NVTX_EVENTS rows above which the table is streamed; a module attribute so tests can send small exports this way
STREAM_ROWS = 4_000_000
# ranges handed to the nesting (and written as one row group) at a time
SORTED_BATCH_ROWS = 1 << 20

# The staged table's columns and types: an all-NULL column reads as Arrow's null type in one batch and as a
# number in the next, and one Parquet file needs one schema.
_STAGED = pa.schema(
    [
        ("start", pa.int64()),
        ("end", pa.int64()),
        ("eventType", pa.int64()),
        ("globalTid", pa.int64()),
        ("endGlobalTid", pa.int64()),
        ("textId", pa.int64()),
        ("domainId", pa.int64()),
        ("payloadInt", pa.int64()),
        ("payloadDouble", pa.float64()),
        ("jsonTextId", pa.int64()),
        ("jsonText", pa.string()),
        ("_text_sid", pa.int64()),
        ("_row", pa.int64()),
    ]
)

# How the staged file is encoded. It is read once, by DuckDB's sort, and the writing runs on the conversion's own
# thread, so encoding speed counts, not size: at 5M NVTX rows zstd with dictionaries wrote it in 3.4 s (69 MB),
# lz4 with the integers delta-packed and no dictionaries in 1.4 s (10 MB), and DuckDB sorted either in 1.6 - 1.7 s.
_STAGED_LAYOUT = {
    "compression": "lz4",
    "use_dictionary": False,
    "column_encoding": {f.name: "DELTA_BINARY_PACKED" for f in _STAGED if pa.types.is_integer(f.type)},
}

# the nesting's pre-order (nesting.nest_sorted): PushPop ranges first, by thread, longer before shorter
_PREORDER = "ORDER BY style, pid, tid, start_ns, end_ns DESC, range_id"


class StagedNvtx:
    """NVTX_EVENTS staged in a temporary Parquet file. `prepare` turns one checked raw batch into the columns the
    SQL reads, given the row position of its first row (`_row` numbers the kept rows across batches)."""

    def __init__(self, batches: Iterable[pa.Table], prepare: Callable[[pa.Table, int], pa.Table]):
        import pyarrow.parquet as pq

        self._dir = tempfile.TemporaryDirectory(prefix="inferscope-nvtx-")
        self.path = f"{self._dir.name}/NVTX_EVENTS.parquet"
        self.rows = 0
        with pq.ParquetWriter(self.path, _STAGED, **_STAGED_LAYOUT) as writer:
            for batch in read_ahead(batches):  # the next batch is read from the export meanwhile
                table = prepare(batch, self.rows)
                if table.num_rows:
                    writer.write_table(_staged(table))
                    self.rows += table.num_rows

    def register(self, con) -> None:
        """Make the staged rows the connection's NVTX_EVENTS, as the whole path registers the Arrow table."""
        path = self.path.replace("'", "''")
        con.execute(f"CREATE OR REPLACE TEMP VIEW NVTX_EVENTS AS SELECT * FROM read_parquet('{path}')")

    def close(self) -> None:
        self._dir.cleanup()


def _staged(table: pa.Table) -> pa.Table:
    columns = []
    for field in _STAGED:
        if field.name in table.column_names:
            col = table.column(field.name)
            columns.append(col if col.type == field.type else col.cast(field.type))
        else:
            columns.append(pa.nulls(table.num_rows, field.type))
    return pa.Table.from_arrays(columns, schema=_STAGED)


def sorted_ranges(con, resolve: Callable[[pa.Table], pa.Table], on_error: Callable[[Exception], Exception]):
    """The staged ranges as a RecordBatchReader of model rows with depth and parent_id, in the nesting's
    pre-order. `resolve` turns string-id columns into strings; `on_error` turns a DuckDB or Arrow error met while
    the stream is read into the error to raise (the export is edited or corrupt)."""
    import duckdb

    query = f"SELECT * FROM ({read_sql('ingest/nsys/nvtx_ranges.sql')}) {_PREORDER}"

    def batches() -> Iterator[pa.Table]:
        try:
            reader = duckdb_conn.arrow_reader(con.sql(query), SORTED_BATCH_ROWS)
            for batch in reader:
                yield model.conform("nvtx_ranges", resolve(pa.Table.from_batches([batch])))
        except (duckdb.Error, pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise on_error(exc) from exc

    nested = nesting.nest_sorted(batches())
    first = next(nested, None)
    if first is None:
        empty = model.empty_table("nvtx_ranges")
        return pa.RecordBatchReader.from_batches(empty.schema, iter(()))
    schema = first.schema

    def rest() -> Iterator[pa.RecordBatch]:
        yield from first.combine_chunks().to_batches()
        for table in nested:
            yield from table.cast(schema).combine_chunks().to_batches()

    return pa.RecordBatchReader.from_batches(schema, rest())
