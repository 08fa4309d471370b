"""nsys export tables -> trace model tables.

The raw tables (see nsys_raw) are registered in a private DuckDB connection under their nsys names and each model
table is produced by one file in sql/ingest/nsys/. Metadata (versions, session start, capture command and the
redacted environment) is small key/value data and is gathered here in Python.
"""
from __future__ import annotations

import re

import duckdb
import pyarrow as pa

from .. import model
from ..redact import redact_text, redact_value
from ..resources import read_sql

# model table -> SQL file under sql/ingest/nsys/
_TRANSFORMS = {
    "kernels": "kernels.sql",
    "memcpy": "memcpy.sql",
    "memset": "memset.sql",
    "api_calls": "api_calls.sql",
    "sync_events": "sync_events.sql",
    "osrt_calls": "osrt_calls.sql",
    "cpu_samples": "cpu_samples.sql",
    "stack_frames": "stack_frames.sql",
    "threads": "threads.sql",
    "processes": "processes.sql",
    "devices": "devices.sql",
    "memory_events": "memory_events.sql",
    "profiler_overhead": "profiler_overhead.sql",
    "nvtx_marks": "nvtx_marks.sql",
}


def convert(raw: dict[str, pa.Table], source_format: str) -> dict[str, pa.Table]:
    con = duckdb.connect()
    try:
        for name, table in raw.items():
            con.register(name, table)
        out = {}
        for table_name, file in _TRANSFORMS.items():
            out[table_name] = model.conform(table_name, con.sql(read_sql(f"ingest/nsys/{file}")).to_arrow_table())
        out["nvtx_ranges"] = nest_ranges(con, con.sql(read_sql("ingest/nsys/nvtx_ranges.sql")).to_arrow_table())
        out["trace_meta"] = _meta(raw, source_format)
        return out
    finally:
        con.close()


def nest_ranges(con: duckdb.DuckDBPyConnection, staging: pa.Table) -> pa.Table:
    """Fill depth/parent_id (shared by every ingest path that produces ranges)."""
    con.register("_ranges", model.conform("nvtx_ranges", staging))
    try:
        return model.conform("nvtx_ranges", con.sql(read_sql("ingest/nvtx_nesting.sql")).to_arrow_table())
    finally:
        con.unregister("_ranges")


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
