"""Read the nsys export tables InferScope needs, from SQLite, Arrow (.arrows) or parquetdir exports.

Only the columns listed in RAW_COLUMNS are read: selecting columns is what makes ADBC SQLite -> Arrow fast, and it
also makes the reader indifferent to extra columns (user ALTER TABLEs, newer schemas). A column missing in an
older schema comes back as all-NULL; a missing table (nsys creates tables lazily) comes back empty. The SQL in
sql/ingest/nsys/ can therefore be written once for every schema from 2.9.1 (nsys 2022.2) on.
"""
from __future__ import annotations

import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import TraceInputError

_GPU = ["start", "end", "deviceId", "contextId", "streamId", "correlationId", "globalPid"]

RAW_COLUMNS: dict[str, list[str]] = {
    "StringIds": ["id", "value"],
    "CUPTI_ACTIVITY_KIND_KERNEL": _GPU
    + ["demangledName", "shortName", "mangledName", "gridX", "gridY", "gridZ", "blockX", "blockY", "blockZ",
       "registersPerThread", "staticSharedMemory", "dynamicSharedMemory", "graphNodeId", "graphId"],
    "CUPTI_ACTIVITY_KIND_MEMCPY": _GPU + ["bytes", "copyKind", "srcKind", "dstKind", "srcDeviceId", "dstDeviceId"],
    "CUPTI_ACTIVITY_KIND_MEMSET": _GPU + ["bytes", "memKind", "value"],
    "CUPTI_ACTIVITY_KIND_RUNTIME": ["start", "end", "eventClass", "globalTid", "correlationId", "nameId",
                                    "returnValue"],
    "CUPTI_ACTIVITY_KIND_SYNCHRONIZATION": _GPU + ["syncType", "eventId"],
    "NVTX_EVENTS": ["start", "end", "eventType", "text", "globalTid", "endGlobalTid", "textId", "domainId",
                    "payloadInt", "payloadDouble", "jsonTextId", "jsonText"],
    "OSRT_API": ["start", "end", "eventClass", "globalTid", "nameId", "returnValue", "nestingLevel"],
    "COMPOSITE_EVENTS": ["id", "start", "cpu", "threadState", "globalTid", "cpuCycles"],
    "SAMPLING_CALLCHAINS": ["id", "symbol", "module", "stackDepth"],
    "ThreadNames": ["nameId", "priority", "globalTid"],
    "PROCESSES": ["globalPid", "pid", "name"],
    "TARGET_INFO_GPU": ["id", "name", "busLocation", "totalMemory", "memoryBandwidth", "clockRate", "smCount",
                        "uuid", "cuDevice", "computeMajor", "computeMinor"],
    "TARGET_INFO_SESSION_START_TIME": ["utcEpochNs"],
    "PROFILER_OVERHEAD": ["start", "end", "globalTid", "nameId"],
    "CUDA_GPU_MEMORY_USAGE_EVENTS": ["start", "globalPid", "deviceId", "address", "bytes", "memKind",
                                     "memoryOperationType", "correlationId"],
    "EXPORT_META_DATA": ["name", "value"],
    "META_DATA_EXPORT": ["name", "value"],
    "META_DATA_CAPTURE": ["name", "value"],
}


# Columns computed while reading: NVTX payloads live in one of several typed columns, and reading six mostly
# empty columns of a multi-million-row table doubles the read time.
DERIVED: dict[str, dict[str, list[str]]] = {
    "NVTX_EVENTS": {
        "payloadInt": ["int64Value", "uint64Value", "int32Value", "uint32Value"],
        "payloadDouble": ["doubleValue", "floatValue"],
    },
}


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


def _stored_columns(name: str) -> set[str]:
    """The columns to read from an Arrow or Parquet export: the wanted ones and the sources of derived ones."""
    return set(RAW_COLUMNS[name]) | {src for srcs in DERIVED.get(name, {}).values() for src in srcs}


def _derive(name: str, table: pa.Table) -> pa.Table:
    """Compute DERIVED columns from the raw ones (Arrow and Parquet exports; SQLite does it in its query)."""
    import pyarrow.compute as pc

    for out, sources in DERIVED.get(name, {}).items():
        if out in table.column_names:
            continue
        cols = [table.column(c) for c in sources if c in table.column_names]
        target = pa.int64() if out == "payloadInt" else pa.float64()
        # payload columns are NULL in almost every row: an empty one is skipped, not cast and coalesced
        cols = [c.cast(target) for c in cols if c.null_count < len(c)]
        value = pc.coalesce(*cols) if len(cols) > 1 else (cols[0] if cols else pa.nulls(table.num_rows))
        table = table.append_column(out, value)
    return table


def _complete(name: str, table: pa.Table | None) -> pa.Table:
    """Select the wanted columns, adding all-NULL ones the schema lacks."""
    wanted = RAW_COLUMNS[name]
    if table is None:
        return pa.table({c: pa.nulls(0) for c in wanted})
    cols = {}
    for c in wanted:
        if c not in table.column_names:
            cols[c] = pa.nulls(table.num_rows)
            continue
        col = table.column(c)
        if len(col) and col.null_count == len(col):
            col = pa.nulls(len(col))  # as the SQLite reader gives an empty column: no buffers to carry along
        elif pa.types.is_binary(col.type) or pa.types.is_large_binary(col.type) or pa.types.is_string(col.type):
            col = _utf8(col)  # nsys Arrow exports store text as binary
        cols[c] = col
    return pa.table(cols)


def _utf8(col: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Text as valid UTF-8 strings. A profiled program can hand NVTX any bytes and SQLite stores them as TEXT
    unchecked; invalid sequences become U+FFFD here instead of failing the conversion later (`nsys stats`
    itself stops with "Could not decode to UTF-8"). Checking costs ~60 ms on 4.9 M NVTX texts."""
    try:
        if pa.types.is_string(col.type):
            for chunk in (col.chunks if isinstance(col, pa.ChunkedArray) else [col]):
                chunk.validate(full=True)
            return col
        return col.cast(pa.string())
    except pa.ArrowInvalid:
        raw = col.cast(pa.binary()) if pa.types.is_string(col.type) else col
        return pa.array([None if v is None else v.decode("utf-8", "replace") for v in raw.to_pylist()], pa.string())


class SqliteReader:
    """Reads one raw table at a time from an nsys SQLite export (callable: name -> Arrow table)."""

    def __init__(self, path: Path):
        self.path = path
        self.uri = uri = f"file:{path}?mode=ro&immutable=1"
        try:
            self.con = _sqlite3_connect(uri)
            self.present = {r[0] for r in self.con.execute("SELECT name FROM sqlite_master WHERE type IN ('table','view')")}
        except sqlite3.DatabaseError as exc:
            raise TraceInputError(f"{path}: corrupt or truncated SQLite file ({exc}); re-export it with `nsys export --type sqlite`") from exc
        if "StringIds" not in self.present and "CUPTI_ACTIVITY_KIND_KERNEL" not in self.present and not any(
            t in self.present for t in ("EXPORT_META_DATA", "META_DATA_EXPORT")
        ):
            self.con.close()
            raise TraceInputError(f"{path}: SQLite database without Nsight Systems tables; pass an `nsys export --type sqlite` file")
        self.adbc = _adbc_connect(uri)

    def __call__(self, name: str) -> pa.Table:
        wanted = RAW_COLUMNS[name]
        if name not in self.present:
            return _complete(name, None)
        try:
            have = [r[1] for r in self.con.execute(f'PRAGMA table_info("{name}")')]
            lo, hi = self._rowid_bounds(name)
        except sqlite3.DatabaseError as exc:
            raise TraceInputError(f"{self.path}: corrupt or truncated SQLite file ({exc}); re-export it from the .nsys-rep") from exc
        exprs: dict[str, str] = {}
        derived = DERIVED.get(name, {})
        for c in wanted:
            if c in have:
                exprs[c] = f'"{c}"'
            elif c in derived and any(src in have for src in derived[c]):
                srcs = [f'"{src}"' for src in derived[c] if src in have]
                exprs[c] = f"coalesce({', '.join(srcs)})" if len(srcs) > 1 else srcs[0]
        if lo is None:  # empty, or no rowid to slice by (a view or a WITHOUT ROWID table)
            return _complete(name, _read_table(self.con, self.adbc, _select(exprs, name), list(exprs), self.path))
        sparse = [c for c in SPARSE.get(name, []) if c in exprs]
        dense = {c: e for c, e in exprs.items() if c not in sparse}
        table = self._read_slices(name, dense, lo, hi)
        if sparse:
            table = self._add_sparse(name, table, {c: exprs[c] for c in sparse}, lo, hi)
        return _complete(name, table)

    def _rowid_bounds(self, name: str) -> tuple[int | None, int | None]:
        try:
            return self.con.execute(f'SELECT min(rowid), max(rowid) FROM "{name}"').fetchone()
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
        queries = [f"{sql} WHERE rowid >= {lo + i * step} AND rowid < {lo + (i + 1) * step} ORDER BY rowid"
                   for i in range(slices)]

        def one(q: str) -> pa.Table:
            # each slice has its own connections, so a slice that falls back to sqlite3 (ADBC gave up on a
            # column's type) still runs beside the other instead of queueing on the reader's connection
            adbc = _adbc_connect(self.uri)
            con = _sqlite3_connect(self.uri)
            try:
                return _read_table(con, adbc, q, list(exprs), self.path)
            finally:
                con.close()
                if adbc is not None:
                    adbc.close()

        with ThreadPoolExecutor(slices) as pool:
            parts = list(pool.map(one, queries))
        return pa.concat_tables(_same_types(parts), promote_options="permissive")

    def _add_sparse(self, name: str, table: pa.Table, exprs: dict[str, str], lo: int, hi: int) -> pa.Table:
        """Append the SPARSE columns, fetched for the rows that have any of them and scattered into place."""
        where = " OR ".join(f"{e} IS NOT NULL" for e in exprs.values())
        found = _read_table(self.con, self.adbc, f'SELECT rowid, {", ".join(exprs.values())} FROM "{name}" WHERE {where}',
                            ["_rowid", *exprs], self.path)
        n = table.num_rows
        if found.num_rows == 0:
            for c in exprs:
                table = table.append_column(c, pa.nulls(n))
            return table
        rowids = found.column("_rowid").to_numpy()
        if hi - lo + 1 == n:  # rowids without gaps: the position is the offset from the first
            pos = rowids - lo
        else:
            every = _read_table(self.con, self.adbc, f'SELECT rowid FROM "{name}" ORDER BY rowid', ["_rowid"], self.path)
            pos = np.searchsorted(every.column("_rowid").to_numpy(), rowids)
        index = np.full(n, -1, dtype=np.int64)
        index[pos] = np.arange(found.num_rows)
        aligned = found.drop_columns(["_rowid"]).take(pa.array(index, mask=index < 0))
        for c in exprs:
            table = table.append_column(c, aligned.column(c))
        return table

    def close(self) -> None:
        self.con.close()
        if self.adbc is not None:
            self.adbc.close()


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
    con.text_factory = lambda b: b.decode("utf-8", "replace")  # see _utf8
    return con


def _adbc_connect(uri: str):
    try:
        import adbc_driver_sqlite.dbapi as adbc_sqlite
    except ImportError:  # optional speed-up; sqlite3 is always there
        return None
    try:
        return adbc_sqlite.connect(uri)
    except Exception:
        return None


def _read_table(con: sqlite3.Connection, adbc, sql: str, cols: list[str], path: Path) -> pa.Table:
    """ADBC streams SQLite into Arrow about twice as fast as sqlite3; it infers column types from the first
    rows and gives up on a column whose type changes later, so sqlite3 is the fallback."""
    if adbc is not None:
        try:
            cur = adbc.cursor()
            try:
                cur.execute(sql)
                return cur.fetch_arrow_table().rename_columns(cols)
            finally:
                cur.close()
        except Exception:
            pass
    try:
        rows = con.execute(sql).fetchall()
    except sqlite3.DatabaseError as exc:
        raise TraceInputError(f"{path}: corrupt or truncated SQLite export ({exc}); re-export it from the .nsys-rep") from exc
    columns = list(zip(*rows)) if rows else [[] for _ in cols]
    arrays = []
    for values in columns:
        try:
            arrays.append(pa.array(values))
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            arrays.append(pa.array([None if v is None else v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
                                    for v in values], type=pa.string()))
    return pa.Table.from_arrays(arrays, names=cols)


class ArrowStreamsReader:
    """`nsys export --type arrow`: one file of consecutive Arrow IPC streams, one per table (its name in the
    schema metadata); callable like SqliteReader (name -> Arrow table).

    The file is memory-mapped and scanned message by message, which finds where each table's stream lies
    without decoding (or decompressing) any of it; a table is decoded only when the conversion asks for it, so
    a large export is converted one table at a time instead of being loaded whole. Each table is decoded from a
    map of its own, zero-copy and only the columns the model needs: the pages of the other columns are never
    touched, and the map goes away with the table."""

    def __init__(self, path: Path):
        self.path = path
        self._spans: dict[str, tuple[int, int]] = {}
        self._schemas: dict[str, pa.Schema] = {}
        try:
            with pa.memory_map(str(path), "r") as mm:
                size = mm.size()
                while mm.tell() < size:
                    start = mm.tell()
                    messages = pa.ipc.MessageReader.open_stream(mm)
                    schema = pa.ipc.read_schema(messages.read_next_message())
                    while True:
                        try:
                            messages.read_next_message()
                        except StopIteration:
                            break
                    name = ((schema.metadata or {}).get(b"table_name") or b"").decode()
                    if name in RAW_COLUMNS:
                        self._spans[name] = (start, mm.tell())
                        self._schemas[name] = schema
        except (pa.ArrowInvalid, OSError, StopIteration) as exc:
            if not self._spans:
                raise TraceInputError(f"{path}: not a readable nsys Arrow export ({exc})") from exc
            raise TraceInputError(f"{path}: truncated nsys Arrow export ({exc}); re-export it from the .nsys-rep") from exc
        if not self._spans:
            raise TraceInputError(f"{path}: Arrow file without Nsight Systems tables")

    def __call__(self, name: str) -> pa.Table:
        if name not in self._spans:
            return _complete(name, None)
        start, end = self._spans[name]
        # decode only the columns the model needs (NVTX_EVENTS has two dozen)
        wanted = _stored_columns(name)
        fields = [i for i, f in enumerate(self._schemas[name]) if f.name in wanted]
        try:
            with pa.memory_map(str(self.path), "r") as mm:
                mm.seek(start)
                stream = pa.ipc.open_stream(mm.read_buffer(end - start),
                                            options=pa.ipc.IpcReadOptions(included_fields=fields))
                table = stream.read_all()
        except (pa.ArrowInvalid, OSError) as exc:
            raise TraceInputError(f"{self.path}: corrupt table {name} in the nsys Arrow export ({exc})") from exc
        return _complete(name, _derive(name, table))

    def close(self) -> None:
        self._spans.clear()


def read_parquet_table(path: Path, name: str) -> pa.Table:
    """One table of an `nsys export --type parquetdir` directory (one `<TABLE>.parquet` per table)."""
    file = path / f"{name}.parquet"
    if not file.exists():
        return _complete(name, None)
    wanted = _stored_columns(name)
    try:
        have = pq.read_schema(file).names
        return _complete(name, _derive(name, pq.read_table(file, columns=[c for c in have if c in wanted])))
    except (pa.ArrowInvalid, OSError) as exc:
        raise TraceInputError(f"{file}: unreadable Parquet file ({exc}); re-export the report") from exc


def read_parquetdir(path: Path) -> dict[str, pa.Table]:
    return {name: read_parquet_table(path, name) for name in RAW_COLUMNS}
