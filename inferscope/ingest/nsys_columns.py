"""Which columns of the nsys export tables InferScope reads, and the shape every raw reader hands them over in.

Only the columns listed in RAW_COLUMNS are read: selecting columns is what makes ADBC SQLite -> Arrow fast, and it
also makes the reader indifferent to extra columns (user ALTER TABLEs, newer schemas). A column missing in an
older schema comes back as all-NULL; a missing table (nsys creates tables lazily) comes back empty. The SQL in
sql/ingest/nsys/ can therefore be written once for every schema from 2.9.1 (nsys 2022.2) on. Shared by the
SQLite reader (`nsys_raw`) and the Arrow and Parquet readers (`nsys_arrow`), so all three give the same tables.
"""

from __future__ import annotations

import pyarrow as pa

_GPU = ["start", "end", "deviceId", "contextId", "streamId", "correlationId", "globalPid"]

RAW_COLUMNS: dict[str, list[str]] = {
    "StringIds": ["id", "value"],
    "CUPTI_ACTIVITY_KIND_KERNEL": _GPU
    + [
        "demangledName",
        "shortName",
        "mangledName",
        "gridX",
        "gridY",
        "gridZ",
        "blockX",
        "blockY",
        "blockZ",
        "registersPerThread",
        "staticSharedMemory",
        "dynamicSharedMemory",
        "graphNodeId",
        "graphId",
    ],
    "CUPTI_ACTIVITY_KIND_MEMCPY": _GPU + ["bytes", "copyKind", "srcKind", "dstKind", "srcDeviceId", "dstDeviceId"],
    "CUPTI_ACTIVITY_KIND_MEMSET": _GPU + ["bytes", "memKind", "value"],
    "CUPTI_ACTIVITY_KIND_RUNTIME": [
        "start",
        "end",
        "eventClass",
        "globalTid",
        "correlationId",
        "nameId",
        "returnValue",
    ],
    "CUPTI_ACTIVITY_KIND_SYNCHRONIZATION": _GPU + ["syncType", "eventId"],
    "NVTX_EVENTS": [
        "start",
        "end",
        "eventType",
        "text",
        "globalTid",
        "endGlobalTid",
        "textId",
        "domainId",
        "payloadInt",
        "payloadDouble",
        "jsonTextId",
        "jsonText",
    ],
    "OSRT_API": ["start", "end", "eventClass", "globalTid", "nameId", "returnValue", "nestingLevel"],
    "COMPOSITE_EVENTS": ["id", "start", "cpu", "threadState", "globalTid", "cpuCycles"],
    "SAMPLING_CALLCHAINS": ["id", "symbol", "module", "stackDepth"],
    "ThreadNames": ["nameId", "priority", "globalTid"],
    "PROCESSES": ["globalPid", "pid", "name"],
    "TARGET_INFO_GPU": [
        "id",
        "name",
        "busLocation",
        "totalMemory",
        "memoryBandwidth",
        "clockRate",
        "smCount",
        "uuid",
        "cuDevice",
        "computeMajor",
        "computeMinor",
    ],
    "TARGET_INFO_SESSION_START_TIME": ["utcEpochNs"],
    "PROFILER_OVERHEAD": ["start", "end", "globalTid", "nameId"],
    "CUDA_GPU_MEMORY_USAGE_EVENTS": [
        "start",
        "globalPid",
        "deviceId",
        "address",
        "bytes",
        "memKind",
        "memoryOperationType",
        "correlationId",
    ],
    # GPU hardware metrics (--gpu-metrics-devices): samples, and the names of the metrics each source samples
    "GPU_METRICS": ["timestamp", "typeId", "metricId", "value"],
    "TARGET_INFO_GPU_METRICS": ["typeId", "metricId", "metricName"],
    "EXPORT_META_DATA": ["name", "value"],
    "META_DATA_EXPORT": ["name", "value"],
    "META_DATA_CAPTURE": ["name", "value"],
    "TARGET_INFO_SYSTEM_ENV": ["name", "value"],
}


# Columns computed while reading: NVTX payloads live in one of several typed columns, and reading six mostly
# empty columns of a multi-million-row table doubles the read time.
DERIVED: dict[str, dict[str, list[str]]] = {
    "NVTX_EVENTS": {
        "payloadInt": ["int64Value", "uint64Value", "int32Value", "uint32Value"],
        "payloadDouble": ["doubleValue", "floatValue"],
    },
}


def stored_columns(name: str) -> set[str]:
    """The columns to read from an Arrow or Parquet export: the wanted ones and the sources of derived ones."""
    return set(RAW_COLUMNS[name]) | {src for srcs in DERIVED.get(name, {}).values() for src in srcs}


def derive(name: str, table: pa.Table) -> pa.Table:
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


def complete(name: str, table: pa.Table | None) -> pa.Table:
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
            for chunk in col.chunks if isinstance(col, pa.ChunkedArray) else [col]:
                chunk.validate(full=True)
            return col
        return col.cast(pa.string())
    except pa.ArrowInvalid:
        raw = col.cast(pa.binary()) if pa.types.is_string(col.type) else col
        return pa.array([None if v is None else v.decode("utf-8", "replace") for v in raw.to_pylist()], pa.string())
