"""Read the nsys export tables InferScope needs, from SQLite, Arrow (.arrows) or parquetdir exports.

Only the columns listed in RAW_COLUMNS are read: selecting columns is what makes ADBC SQLite -> Arrow fast, and it
also makes the reader indifferent to extra columns (user ALTER TABLEs, newer schemas). A column missing in an
older schema comes back as all-NULL; a missing table (nsys creates tables lazily) comes back empty. The SQL in
sql/ingest/nsys/ can therefore be written once for every schema from 2.9.1 (nsys 2022.2) on.
"""
from __future__ import annotations

import sqlite3
from pathlib import Path

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


def _derive(name: str, table: pa.Table) -> pa.Table:
    """Compute DERIVED columns from the raw ones (Arrow and Parquet exports; SQLite does it in its query)."""
    import pyarrow.compute as pc

    for out, sources in DERIVED.get(name, {}).items():
        if out in table.column_names:
            continue
        cols = [table.column(c) for c in sources if c in table.column_names]
        target = pa.int64() if out == "payloadInt" else pa.float64()
        cols = [c.cast(target) for c in cols if not pa.types.is_null(c.type)]
        value = pc.coalesce(*cols) if len(cols) > 1 else (cols[0] if cols else pa.nulls(table.num_rows, target))
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
        if pa.types.is_binary(col.type) or pa.types.is_large_binary(col.type):
            col = col.cast(pa.string())  # nsys Arrow exports store text as binary
        cols[c] = col
    return pa.table(cols)


class SqliteReader:
    """Reads one raw table at a time from an nsys SQLite export (callable: name -> Arrow table)."""

    def __init__(self, path: Path):
        self.path = path
        uri = f"file:{path}?mode=ro&immutable=1"
        try:
            self.con = sqlite3.connect(uri, uri=True, check_same_thread=False)
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
        except sqlite3.DatabaseError as exc:
            raise TraceInputError(f"{self.path}: corrupt or truncated SQLite file ({exc}); re-export it from the .nsys-rep") from exc
        cols, exprs = [], []
        derived = DERIVED.get(name, {})
        for c in wanted:
            if c in have:
                cols.append(c)
                exprs.append(f'"{c}"')
            elif c in derived and any(src in have for src in derived[c]):
                srcs = [f'"{src}"' for src in derived[c] if src in have]
                cols.append(c)
                exprs.append(f"coalesce({', '.join(srcs)})" if len(srcs) > 1 else srcs[0])
        sql = "SELECT " + ", ".join(exprs) + f' FROM "{name}"'
        return _complete(name, _read_table(self.con, self.adbc, sql, cols, self.path))

    def close(self) -> None:
        self.con.close()
        if self.adbc is not None:
            self.adbc.close()


def read_sqlite(path: Path) -> dict[str, pa.Table]:
    reader = SqliteReader(path)
    try:
        return {name: reader(name) for name in RAW_COLUMNS}
    finally:
        reader.close()


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
                return cur.fetch_arrow_table()
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
            arrays.append(pa.array([None if v is None else str(v) for v in values], type=pa.string()))
    return pa.Table.from_arrays(arrays, names=cols)


def read_arrow_streams(path: Path) -> dict[str, pa.Table]:
    """`nsys export --type arrow`: one file holding one Arrow IPC stream per table (name in schema metadata)."""
    found: dict[str, pa.Table] = {}
    try:
        with pa.OSFile(str(path), "rb") as f:
            size = f.size()
            while f.tell() < size:
                reader = pa.ipc.open_stream(f)
                table = reader.read_all()
                meta = reader.schema.metadata or {}
                name = (meta.get(b"table_name") or b"").decode()
                if name in RAW_COLUMNS:
                    found[name] = _derive(name, table)
    except (pa.ArrowInvalid, OSError) as exc:
        if not found:
            raise TraceInputError(f"{path}: not a readable nsys Arrow export ({exc})") from exc
        raise TraceInputError(f"{path}: truncated nsys Arrow export ({exc}); re-export it from the .nsys-rep") from exc
    if not found:
        raise TraceInputError(f"{path}: Arrow file without Nsight Systems tables")
    return {name: _complete(name, found.get(name)) for name in RAW_COLUMNS}


def read_parquet_table(path: Path, name: str) -> pa.Table:
    """One table of an `nsys export --type parquetdir` directory (one `<TABLE>.parquet` per table)."""
    file = path / f"{name}.parquet"
    if not file.exists():
        return _complete(name, None)
    wanted = RAW_COLUMNS[name]
    try:
        have = pq.read_schema(file).names
        sources = {src for srcs in DERIVED.get(name, {}).values() for src in srcs}
        return _complete(name, _derive(name, pq.read_table(file, columns=[c for c in have if c in wanted or c in sources])))
    except (pa.ArrowInvalid, OSError) as exc:
        raise TraceInputError(f"{file}: unreadable Parquet file ({exc}); re-export the report") from exc


def read_parquetdir(path: Path) -> dict[str, pa.Table]:
    return {name: read_parquet_table(path, name) for name in RAW_COLUMNS}
