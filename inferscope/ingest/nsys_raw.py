"""Read the nsys export tables InferScope needs, from SQLite, Arrow (.arrows) or parquetdir exports.

This module is the SQLite reader (ADBC where installed, sqlite3 otherwise), and the one place ingest takes the raw
readers from: the Arrow and Parquet readers live in `nsys_arrow`, the column lists and the shared shaping of the
tables (all-NULL columns for an older schema, derived columns, UTF-8 text) in `nsys_columns`; both are named here
so that callers need not know which module holds which format.
"""

from __future__ import annotations

import itertools
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pyarrow as pa

from ..errors import TraceInputError
from . import adbc_sqlite
from .nsys_arrow import (
    ArrowStreamsReader,
    parquet_table_batches,
    parquet_table_rows,
    read_parquet_table,
    read_parquetdir,
)
from .nsys_columns import DERIVED, RAW_COLUMNS, complete

__all__ = [
    "DERIVED",
    "RAW_COLUMNS",
    "READ_THREADS",
    "SPARSE",
    "SPLIT_ROWS",
    "ArrowStreamsReader",
    "SqliteReader",
    "parquet_table_batches",
    "parquet_table_rows",
    "read_parquet_table",
    "read_parquetdir",
    "read_sqlite",
]

# Columns that are NULL in almost every row of a large table. The SQLite reader fetches them only for the rows
# where one of them is set (one cheap scan inside SQLite) instead of converting millions of NULLs: on 4.9 M NVTX
# rows that alone took the read from 6.7 s to about 3 s. Entries name RAW_COLUMNS (derived ones included).
SPARSE: dict[str, list[str]] = {
    "NVTX_EVENTS": ["endGlobalTid", "payloadInt", "payloadDouble", "jsonTextId", "jsonText"],
}

# A SQLite table with at least this many rows is read in rowid slices on parallel connections: ADBC releases the
# GIL while it steps SQLite, so two slices use both cores of a small machine.
SPLIT_ROWS = 400_000
READ_THREADS = 2
# rows per batch where a table is streamed instead of read whole (`SqliteReader.batches`)
BATCH_ROWS = 1 << 18
_MAX_ROWID = (1 << 63) - 1


class SqliteReader:
    """Reads one raw table at a time from an nsys SQLite export (callable: name -> Arrow table)."""

    def __init__(self, path: Path):
        self.path = path
        self.uri = uri = f"file:{path}?mode=ro&immutable=1"
        try:
            self.con = _sqlite3_connect(uri)
            self.present = {
                r[0] for r in self.con.execute("SELECT name FROM sqlite_master WHERE type IN ('table','view')")
            }
        except sqlite3.DatabaseError as exc:
            raise TraceInputError(
                f"{path}: corrupt or truncated SQLite file ({exc}); re-export it with `nsys export --type sqlite`"
            ) from exc
        if (
            "StringIds" not in self.present
            and "CUPTI_ACTIVITY_KIND_KERNEL" not in self.present
            and not any(t in self.present for t in ("EXPORT_META_DATA", "META_DATA_EXPORT"))
        ):
            self.con.close()
            raise TraceInputError(
                f"{path}: SQLite database without Nsight Systems tables; pass an `nsys export --type sqlite` file"
            )
        self.adbc = adbc_sqlite.connect(uri)

    def _exprs(self, name: str, con: sqlite3.Connection | None = None) -> dict[str, str]:
        """The SELECT expression of each wanted column the table has or can derive."""
        try:
            have = [r[1] for r in (con or self.con).execute(f'PRAGMA table_info("{name}")')]
        except sqlite3.DatabaseError as exc:
            raise TraceInputError(
                f"{self.path}: corrupt or truncated SQLite file ({exc}); re-export it from the .nsys-rep"
            ) from exc
        exprs: dict[str, str] = {}
        derived = DERIVED.get(name, {})
        for c in RAW_COLUMNS[name]:
            if c in have:
                exprs[c] = f'"{c}"'
            elif c in derived and any(src in have for src in derived[c]):
                srcs = [f'"{src}"' for src in derived[c] if src in have]
                exprs[c] = f"coalesce({', '.join(srcs)})" if len(srcs) > 1 else srcs[0]
        return exprs

    def __call__(self, name: str) -> pa.Table:
        if name not in self.present:
            return complete(name, None)
        exprs = self._exprs(name)
        try:
            lo, hi = self._rowid_bounds(name)
        except sqlite3.DatabaseError as exc:
            raise TraceInputError(
                f"{self.path}: corrupt or truncated SQLite file ({exc}); re-export it from the .nsys-rep"
            ) from exc
        if lo is None:  # empty, or no rowid to slice by (a view or a WITHOUT ROWID table)
            return complete(name, _read_table(self.con, self.adbc, _select(exprs, name), list(exprs), self.path))
        sparse = [c for c in SPARSE.get(name, []) if c in exprs]
        dense = {c: e for c, e in exprs.items() if c not in sparse}
        table = self._read_slices(name, dense, lo, hi)
        if sparse:
            table = self._add_sparse(name, table, {c: exprs[c] for c in sparse}, lo, hi)
        return complete(name, table)

    def batches(self, name: str, rows: int | None = None) -> Iterator[pa.Table]:
        """The table's rows in stored order, about `rows` at a time, never all in memory (GPU_METRICS). ADBC
        streams them; where it gives up on a column's type part-way, sqlite3 goes on from the first row it had
        not yet handed on."""
        if name not in self.present:
            yield complete(name, None)
            return
        rows = rows or BATCH_ROWS
        if self.adbc is not None:
            seek = _sqlite3_connect(self.uri)  # this generator's own: the reader's serves the prefetch meanwhile
            try:
                try:
                    lo, hi = self._rowid_bounds(name, seek)
                except sqlite3.DatabaseError:
                    lo = hi = None
                if lo is not None and hi - lo + 1 >= SPLIT_ROWS:
                    yield from self._chunks(name, seek, lo, rows)
                    return
            finally:
                seek.close()
        # connections of its own: the conversion reads the next raw table on the reader's in the background
        with _own_connections(self.uri) as (con, adbc):
            exprs = self._exprs(name, con)
            sql, cols, done = _select(exprs, name), list(exprs), 0
            if adbc is not None:
                try:
                    for batch in adbc.batches(sql, rows):
                        table = complete(name, pa.Table.from_batches([batch]).rename_columns(cols))
                        done += table.num_rows
                        yield table
                    return
                except Exception:  # a type change ADBC cannot follow: the rest through sqlite3
                    pass
            try:
                cursor = con.execute(f"{sql} LIMIT -1 OFFSET {done}")
                while chunk := cursor.fetchmany(rows):
                    yield complete(name, _rows_table(chunk, cols))
            except sqlite3.DatabaseError as exc:
                raise TraceInputError(
                    f"{self.path}: corrupt or truncated SQLite export ({exc}); re-export it from the .nsys-rep"
                ) from exc

    def _chunks(self, name: str, seek: sqlite3.Connection, lo: int, rows: int) -> Iterator[pa.Table]:
        """`batches` of a large table: rowid ranges of `rows` read on READ_THREADS connections at once, handed on
        in order, with the SPARSE columns fetched per range only for the rows that have any. One reader stepping
        SQLite was most of a streamed conversion (4.3 s for 5M NVTX rows, the other core idle).

        Each range starts at the first rowid at or after the previous range's end (an index seek on `seek`), so a
        gap in the rowids (an edited export) is stepped over instead of read as empty ranges."""
        exprs = self._exprs(name, seek)
        sparse = {c: e for c, e in exprs.items() if c in SPARSE.get(name, ())}
        dense = {c: e for c, e in exprs.items() if c not in sparse}

        def bounds() -> Iterator[tuple[int, int]]:
            start = lo
            while start is not None:
                end = min(start + rows, _MAX_ROWID)
                yield start, end
                if end == _MAX_ROWID:
                    return
                try:
                    start = seek.execute(f'SELECT min(rowid) FROM "{name}" WHERE rowid >= ?', (end,)).fetchone()[0]
                except sqlite3.DatabaseError as exc:
                    raise TraceInputError(
                        f"{self.path}: corrupt or truncated SQLite export ({exc}); re-export it from the .nsys-rep"
                    ) from exc

        def one(a: int, b: int) -> pa.Table:
            with _own_connections(self.uri) as (con, adbc):  # per range: each thread its own
                where = f"rowid >= {a} AND rowid < {b}" if b < _MAX_ROWID else f"rowid >= {a}"
                cols = ["_rowid", *dense] if sparse else list(dense)
                select = ", ".join(
                    (['rowid AS "_rowid"'] if sparse else []) + [f'{e} AS "{c}"' for c, e in dense.items()]
                )
                table = _read_table(
                    con, adbc, f'SELECT {select} FROM "{name}" WHERE {where} ORDER BY rowid', cols, self.path
                )
                if sparse:
                    rowids = table.column("_rowid").to_numpy()
                    table = _with_sparse(
                        con,
                        adbc,
                        name,
                        table.drop_columns(["_rowid"]),
                        sparse,
                        where,
                        lambda found: np.searchsorted(rowids, found),
                        self.path,
                    )
                return complete(name, table)

        pool = ThreadPoolExecutor(READ_THREADS, thread_name_prefix="inferscope-sqlite")
        try:
            ranges = bounds()
            ahead = [pool.submit(one, a, b) for a, b in itertools.islice(ranges, READ_THREADS + 1)]
            while ahead:
                table = ahead.pop(0).result()
                ahead.extend(pool.submit(one, a, b) for a, b in itertools.islice(ranges, 1))
                if table.num_rows:
                    yield table
                del table
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def count(self, name: str) -> int | None:
        """About how many rows the table holds (its rowid span, read from the index, not counted), None where
        that is unknown."""
        if name not in self.present:
            return 0
        try:
            lo, hi = self._rowid_bounds(name)
        except sqlite3.DatabaseError:
            return None
        return None if lo is None else hi - lo + 1

    def _rowid_bounds(self, name: str, con: sqlite3.Connection | None = None) -> tuple[int | None, int | None]:
        try:
            # one subquery each: SQLite reads min() or max() of the rowid from the b-tree's ends only when the
            # aggregate stands alone; `SELECT min(rowid), max(rowid)` scans the table (0.38 s at 5M NVTX rows)
            return (
                (con or self.con)
                .execute(f'SELECT (SELECT min(rowid) FROM "{name}"), (SELECT max(rowid) FROM "{name}")')
                .fetchone()
            )
        except sqlite3.OperationalError as exc:
            if "rowid" in str(exc):
                return None, None
            raise

    def _read_slices(self, name: str, exprs: dict[str, str], lo: int, hi: int) -> pa.Table:
        """Rows in rowid order, read in READ_THREADS rowid slices when the table is large."""
        sql = _select(exprs, name)
        slices = READ_THREADS if self.adbc is not None and hi - lo + 1 >= SPLIT_ROWS else 1
        if slices == 1:
            return _read_table(self.con, self.adbc, sql, list(exprs), self.path)
        step = (hi - lo) // slices + 1
        queries = [
            f"{sql} WHERE rowid >= {lo + i * step} AND rowid < {lo + (i + 1) * step} ORDER BY rowid"
            for i in range(slices)
        ]

        def one(q: str) -> pa.Table:
            # each slice has its own connections, so a slice that falls back to sqlite3 (ADBC gave up on a
            # column's type) still runs beside the other instead of queueing on the reader's connection
            with _own_connections(self.uri) as (con, adbc):
                return _read_table(con, adbc, q, list(exprs), self.path)

        with ThreadPoolExecutor(slices) as pool:
            parts = list(pool.map(one, queries))
        return pa.concat_tables(_same_types(parts), promote_options="permissive")

    def _add_sparse(self, name: str, table: pa.Table, exprs: dict[str, str], lo: int, hi: int) -> pa.Table:
        """Append the SPARSE columns, fetched for the rows that have any of them and scattered into place."""

        def positions(rowids: np.ndarray) -> np.ndarray:
            if hi - lo + 1 == table.num_rows:  # rowids without gaps: the position is the offset from the first
                return rowids - lo
            every = _read_table(
                self.con, self.adbc, f'SELECT rowid FROM "{name}" ORDER BY rowid', ["_rowid"], self.path
            )
            return np.searchsorted(every.column("_rowid").to_numpy(), rowids)

        return _with_sparse(self.con, self.adbc, name, table, exprs, None, positions, self.path)

    def close(self) -> None:
        self.con.close()
        if self.adbc is not None:
            self.adbc.close()


def _with_sparse(
    con,
    adbc,
    name: str,
    table: pa.Table,
    sparse: dict[str, str],
    where: str | None,
    positions: Callable[[np.ndarray], np.ndarray],
    path: Path,
) -> pa.Table:
    """`table` with the SPARSE columns appended: fetched for the rows (of `where`, or all) that have any of them,
    and put in place at `positions(their rowids)`, row positions in `table`."""
    test = " OR ".join(f"{e} IS NOT NULL" for e in sparse.values())
    found = _read_table(
        con,
        adbc,
        f'SELECT rowid, {", ".join(sparse.values())} FROM "{name}" WHERE {f"({where}) AND " if where else ""}({test}) '
        "ORDER BY rowid",
        ["_rowid", *sparse],
        path,
    )
    if found.num_rows == 0:
        for c in sparse:
            table = table.append_column(c, pa.nulls(table.num_rows))
        return table
    index = np.full(table.num_rows, -1, dtype=np.int64)
    index[positions(found.column("_rowid").to_numpy())] = np.arange(found.num_rows)
    aligned = found.drop_columns(["_rowid"]).take(pa.array(index, mask=index < 0))
    for c in sparse:
        table = table.append_column(c, aligned.column(c))
    return table


def _same_types(parts: list[pa.Table]) -> list[pa.Table]:
    """Slices of one table whose column types disagree (a slice read by the sqlite3 fallback turns a column of
    mixed types into text) get that column as text in every slice, as a whole-table read would give it; NULL-typed
    (all-empty) slices are left to concat_tables' promotion."""
    out = list(parts)
    for i, name in enumerate(parts[0].column_names):
        types = {t.schema.field(i).type for t in parts} - {pa.null()}
        if len(types) > 1:
            out = [t.set_column(i, name, t.column(i).cast(pa.string())) for t in out]
    return out


def _select(exprs: dict[str, str], name: str) -> str:
    return "SELECT " + ", ".join(f'{e} AS "{c}"' for c, e in exprs.items()) + f' FROM "{name}"'


def read_sqlite(path: Path) -> dict[str, pa.Table]:
    reader = SqliteReader(path)
    try:
        return {name: reader(name) for name in RAW_COLUMNS}
    finally:
        reader.close()


def _sqlite3_connect(uri: str) -> sqlite3.Connection:
    con = sqlite3.connect(uri, uri=True, check_same_thread=False)
    con.text_factory = lambda b: b.decode("utf-8", "replace")  # see nsys_columns._utf8
    return con


@contextmanager
def _own_connections(uri: str) -> Iterator[tuple[sqlite3.Connection, "adbc_sqlite.AdbcSqlite | None"]]:
    """A sqlite3 connection and an ADBC one (None without the driver) for one thread's reads, closed after."""
    con, adbc = _sqlite3_connect(uri), adbc_sqlite.connect(uri)
    try:
        yield con, adbc
    finally:
        con.close()
        if adbc is not None:
            adbc.close()


def _read_table(con: sqlite3.Connection, adbc, sql: str, cols: list[str], path: Path) -> pa.Table:
    """ADBC streams SQLite into Arrow about twice as fast as sqlite3; it infers column types from the first
    rows and gives up on a column whose type changes later, so sqlite3 is the fallback."""
    if adbc is not None:
        try:
            return adbc.read(sql).rename_columns(cols)
        except Exception:
            pass
    try:
        rows = con.execute(sql).fetchall()
    except sqlite3.DatabaseError as exc:
        raise TraceInputError(
            f"{path}: corrupt or truncated SQLite export ({exc}); re-export it from the .nsys-rep"
        ) from exc
    return _rows_table(rows, cols)


def _rows_table(rows: list[tuple], cols: list[str]) -> pa.Table:
    """sqlite3 rows as an Arrow table; a column of mixed types becomes text."""
    columns = list(zip(*rows)) if rows else [[] for _ in cols]
    arrays = []
    for values in columns:
        try:
            arrays.append(pa.array(values))
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            arrays.append(
                pa.array(
                    [
                        None if v is None else v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
                        for v in values
                    ],
                    type=pa.string(),
                )
            )
    return pa.Table.from_arrays(arrays, names=cols)
