"""nsys export tables -> trace model tables.

The raw tables (see nsys_raw) are registered in a private DuckDB connection under their nsys names and each model
table is produced by the file of the same name in sql/ingest/nsys/. Metadata (versions, session start, capture command and the
redacted environment) is small key/value data and is gathered here in Python.
"""
from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterator

import duckdb
import numpy as np
import pyarrow as pa

from .. import model
from ..errors import TraceInputError
from ..redact import redact_text, redact_value
from ..resources import read_sql
from . import nesting
from .strings import StringTable

# raw nsys tables each transform reads (StringIds is kept for the whole conversion)
_NEEDS = {
    "kernels": ["CUPTI_ACTIVITY_KIND_KERNEL"],
    "memcpy": ["CUPTI_ACTIVITY_KIND_MEMCPY"],
    "memset": ["CUPTI_ACTIVITY_KIND_MEMSET"],
    "api_calls": ["CUPTI_ACTIVITY_KIND_RUNTIME"],
    # right after api_calls, so the runtime table is not held longer than before
    "memory_events": ["CUDA_GPU_MEMORY_USAGE_EVENTS", "CUPTI_ACTIVITY_KIND_RUNTIME"],
    "sync_events": ["CUPTI_ACTIVITY_KIND_SYNCHRONIZATION"],
    "osrt_calls": ["OSRT_API"],
    "cpu_samples": ["COMPOSITE_EVENTS"],
    "stack_frames": ["SAMPLING_CALLCHAINS"],
    "threads": ["ThreadNames"],
    "processes": ["PROCESSES"],
    "devices": ["TARGET_INFO_GPU"],
    "profiler_overhead": ["PROFILER_OVERHEAD"],
    "nvtx_marks": ["NVTX_EVENTS"],
    "nvtx_ranges": ["NVTX_EVENTS"],
}
_META_TABLES = ["META_DATA_EXPORT", "EXPORT_META_DATA", "META_DATA_CAPTURE", "TARGET_INFO_SESSION_START_TIME"]


def iter_convert(read: Callable[[str], pa.Table], source_format: str) -> Iterator[tuple[str, pa.Table]]:
    """Yield (model table, Arrow table) one at a time, reading each raw table when first needed and dropping it
    after its last use, so peak memory is about the largest raw table rather than the whole export."""
    order = list(_NEEDS)
    raw_order = list(dict.fromkeys(raw for t in order for raw in _NEEDS[t]))
    last_use = {raw: max(i for i, t in enumerate(order) if raw in _NEEDS[t]) for raw in raw_order}
    con = duckdb.connect()
    # Reading SQLite (ADBC, GIL released) overlaps with DuckDB's transform of the previous table.
    pool = ThreadPoolExecutor(max_workers=1)
    pending = {}

    def prefetch(k: int) -> None:
        if k < len(raw_order) and raw_order[k] not in pending:
            pending[raw_order[k]] = pool.submit(read, raw_order[k])

    try:
        string_ids = read("StringIds")
        strings = StringTable.from_string_ids(string_ids)
        con.register("StringIds", string_ids)
        prefetch(0)
        loaded: set[str] = set()
        for i, table_name in enumerate(order):
            for raw_name in _NEEDS[table_name]:
                if raw_name not in loaded:
                    table = pending.pop(raw_name).result()
                    prefetch(raw_order.index(raw_name) + 1)
                    if raw_name == "NVTX_EVENTS":
                        table = _nvtx_events(table, strings)
                    con.register(raw_name, table)
                    loaded.add(raw_name)
                    del table
            try:
                result = strings.resolve(con.sql(read_sql(f"ingest/nsys/{table_name}.sql")).to_arrow_table())
            except duckdb.Error as exc:  # e.g. text where nsys writes timestamps: an edited or corrupt export
                first = str(exc).strip().splitlines()[0]
                raise TraceInputError(f"cannot convert the export's {', '.join(_NEEDS[table_name])} to "
                                      f"{table_name} ({first}); the export looks edited or corrupt, re-export it") from exc
            # release raw tables before nesting and writing: NVTX_EVENTS alone is ~500 MB at 5M ranges
            for raw_name in _NEEDS[table_name]:
                if last_use[raw_name] == i:
                    con.unregister(raw_name)
                    loaded.discard(raw_name)
                    _release_freed_memory()
            if table_name == "nvtx_ranges":
                result = nest_ranges(con, result)
            yield table_name, model.conform(table_name, result)
            del result
        for future in pending.values():
            future.result()
        yield "trace_meta", _meta({name: read(name) for name in _META_TABLES}, source_format)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        con.close()


def _release_freed_memory() -> None:
    """Hand memory freed by glibc malloc back to the system. The SQLite reader's Arrow buffers come from malloc,
    while Arrow (mimalloc) and DuckDB (jemalloc) allocate from their own heaps and cannot reuse what malloc
    keeps; without this, each large raw table left ~100 MB resident that the next stage could not use."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to do
        pass


def _nvtx_events(table: pa.Table, strings: StringTable) -> pa.Table:
    """NVTX_EVENTS as the SQL reads it: inline texts replaced by string ids (`_text_sid`, so a range name is
    never copied per row) and `_row`, the row position, for stable range ids without a global sort."""
    text_ids = strings.add_texts(table.column("text"))
    table = table.drop_columns(["text"]).append_column("_text_sid", text_ids)
    return table.append_column("_row", pa.array(np.arange(table.num_rows, dtype=np.int64)))


def nest_ranges(con: duckdb.DuckDBPyConnection | None, staging: pa.Table) -> pa.Table:
    """Fill depth/parent_id (shared by every ingest path that produces ranges; `con` is unused and kept for
    callers written against the earlier SQL implementation)."""
    return model.conform("nvtx_ranges", nesting.nest(model.conform("nvtx_ranges", staging)))


def _pairs(table: pa.Table) -> list[tuple[str, str]]:
    if table.num_rows == 0:
        return []
    names = table.column("name").to_pylist()
    values = table.column("value").to_pylist()
    return [(str(n), "" if v is None else str(v)) for n, v in zip(names, values) if n is not None]


_ENV_ITEM = re.compile(r'^(?P<name>[^=]+)="?(?P<value>.*?)"?$', re.S)


def _meta(raw: dict[str, pa.Table], source_format: str) -> pa.Table:
    export = dict(_pairs(raw["META_DATA_EXPORT"]) or _pairs(raw["EXPORT_META_DATA"]))
    facts: dict[str, str] = {
        "model_version": model.MODEL_VERSION,
        "source_format": source_format,
        "source_tool": "nsys",
    }
    if "EXPORT_PRODUCT_VERSION" in export:
        facts["source_version"] = export["EXPORT_PRODUCT_VERSION"]
    if "EXPORT_SCHEMA_VERSION" in export:
        facts["schema_version"] = export["EXPORT_SCHEMA_VERSION"]
    if "EXPORT_HOST" in export:
        facts["export_host"] = export["EXPORT_HOST"]
    start = raw["TARGET_INFO_SESSION_START_TIME"]
    if start.num_rows and start.column("utcEpochNs")[0].is_valid:
        facts["session_start_utc_ns"] = str(int(start.column("utcEpochNs")[0].as_py()))
    command: list[str] = []
    env: list[tuple[str, str]] = []
    for name, value in _pairs(raw["META_DATA_CAPTURE"]):
        if name == "PROCESS_0:COMMAND":
            command.insert(0, value)
        elif re.fullmatch(r"PROCESS_0:ARGUMENT_\d+", name):
            command.append(value)
        elif name == "PROCESS_0:WORKING_DIR":
            facts["cwd"] = value
        elif name == "PROCESS_0:ENVIRONMENT_VARIABLE":
            m = _ENV_ITEM.match(value)
            if m:
                env.append((m.group("name"), redact_value(m.group("name"), m.group("value"))))
        elif name in ("DEVICE_DISPLAY_NAME", "CUDA_GRAPH_TRACE_OPTIONS:MODE", "COLLECT_GPU_MEMORY_USAGE"):
            facts["capture." + name.lower().replace(":", ".")] = value
    if command:
        facts["command"] = redact_text(" ".join(command))
    rows = list(facts.items()) + [(f"env.{k}", v) for k, v in env]
    return pa.table({"key": [k for k, _ in rows], "value": [v for _, v in rows]}, schema=model.TABLE_BY_NAME["trace_meta"].schema)
