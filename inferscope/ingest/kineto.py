"""PyTorch profiler (Kineto) Chrome-trace JSON -> trace model tables.

A trace is one `.json`/`.json.gz` file or a directory with one file per rank. Each file's events array is handed
to DuckDB's JSON reader as text (see kineto_json), typed once by sql/ingest/kineto/events.sql, and every model
table is then one SQL file in sql/ingest/kineto/. Metadata (ranks, device properties, versions) is small and is
handled here.

Ranks in a directory: the rank is `distributedInfo.rank`, else a number after "rank" in the file name, else the
next unused number in file-name order. So that several ranks share one model without colliding, ids of rank r
are offset: pid = r * 100,000,000 + OS pid and device_id = r * 100 + Kineto device (docs/kineto.md). A single
file keeps its ids as recorded.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from .. import duckdb_conn, model
from ..errors import TraceInputError
from ..redact import redact_text
from ..resources import read_sql
from .freed_memory import release_freed_memory
from .kernel_names import short_names
from .kineto_json import (
    extract_events,
    join_parts,
    needs_exact_times,
    quote_times,
    read_bytes,
    split_array,
    split_document,
)
from .nesting import nest

PID_STRIDE = 100_000_000
DEVICE_STRIDE = 100
_RANK_IN_NAME = re.compile(r"rank[-_.]?(\d+)", re.I)
_DEFAULT_MAX_OBJECT = 16 << 20
_RAW_COLUMNS = (
    "{ph: 'VARCHAR', cat: 'VARCHAR', name: 'VARCHAR', pid: 'VARCHAR', tid: 'VARCHAR', "
    "ts: 'VARCHAR', dur: 'VARCHAR', args: 'JSON'}"
)

# model table -> SQL file under sql/ingest/kineto/ (nvtx_ranges is nested afterwards; devices, trace_meta here)
_TRANSFORMS = {
    "kernels": "kernels.sql",
    "memcpy": "memcpy.sql",
    "memset": "memset.sql",
    "api_calls": "api_calls.sql",
    "sync_events": "sync_events.sql",
    "nvtx_marks": "nvtx_marks.sql",
    "memory_events": "memory_events.sql",
    "profiler_overhead": "profiler_overhead.sql",
    "processes": "processes.sql",
    "threads": "threads.sql",
}
_EVENT_KINDS = (
    "kernel",
    "memcpy",
    "memset",
    "runtime",
    "driver",
    "cpu_op",
    "user_annotation",
    "gpu_user_annotation",
    "python_function",
    "sync",
    "instant",
    "memory",
    "overhead",
)


@dataclass
class _File:
    path: Path
    meta: dict
    events_file: Path
    rank: int | None = None
    parts: list[Path] = field(default_factory=list)  # events_file cut into files read in parallel (split_array)


def trace_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    files = sorted(
        p
        for p in path.iterdir()
        if p.is_file() and not p.name.startswith(".") and p.name.endswith((".json", ".json.gz"))
    )
    if not files:
        raise TraceInputError(f"{path}: no *.json or *.json.gz PyTorch profiler traces in this directory")
    return files


def load(path: Path) -> dict[str, pa.Table]:
    """All model tables of a Kineto file or rank directory, in memory (`iter_tables` hands them on one at a time)."""
    return dict(iter_tables(path))


def iter_tables(path: Path) -> "Iterator[tuple[str, pa.Table]]":
    """The model tables of a Kineto file or rank directory, one at a time, so that the cache writes each as it comes
    and only DuckDB's typed events (under its memory cap) and one converted table are held at once: a 5M-event
    trace held every converted table in Arrow before the first was written. Each file's events array goes to a
    temporary file because DuckDB's fast array reader wants a file of its own; it is written as the document is
    read and inflated, so the document is never in memory, and then cut into one file per DuckDB thread, which
    DuckDB reads in parallel (kineto_json.split_array)."""
    with tempfile.TemporaryDirectory(prefix="inferscope-kineto-") as tmp:
        files = []
        for i, f in enumerate(trace_files(path)):
            out = Path(tmp) / f"events-{i}.json"
            found = extract_events(f, out)  # streamed: the document is never in memory
            if found is None:  # a layout the stream cannot cut (kineto_json.extract_events): the whole document
                meta, events = split_document(f, read_bytes(f))
                exact = needs_exact_times(events)
                out.write_bytes(quote_times(events) if exact else events)
                del events
            else:
                meta, exact = found
                if exact:
                    out.write_bytes(quote_times(memoryview(out.read_bytes())))
            files.append(_File(f, meta, out))
        _assign_ranks(path, files)
        con = duckdb_conn.connect()
        threads = con.execute("SELECT current_setting('threads')").fetchall()[0][0]
        for f in files:  # DuckDB reads one array on one thread, several files on several (kineto_json.split_array)
            f.parts = split_array(f.events_file, threads)
        try:
            yield from _convert(con, path, files)
        finally:
            con.close()
            release_freed_memory()  # the JSON readers' buffers, from every thread that parsed a part


def _int(value) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def _assign_ranks(path: Path, files: list[_File]) -> None:
    for f in files:
        info = f.meta.get("distributedInfo")
        f.rank = _int(info.get("rank")) if isinstance(info, dict) else None
    if len(files) == 1:
        return
    for f in files:
        if f.rank is None and (m := _RANK_IN_NAME.search(f.path.name)):
            f.rank = int(m.group(1))
    taken = {f.rank for f in files if f.rank is not None}
    free = (r for r in range(len(files) + len(taken)) if r not in taken)
    seen: dict[int, Path] = {}
    for f in files:
        if f.rank is None:
            f.rank = next(free)
        if f.rank in seen:
            raise TraceInputError(
                f"{path}: {seen[f.rank].name} and {f.path.name} are both rank {f.rank}; keep one "
                "trace per rank in the directory"
            )
        seen[f.rank] = f.path


def _files_table(files: list[_File]) -> pa.Table:
    multi = len(files) > 1
    return pa.table(
        {
            "file_idx": list(range(len(files))),
            "rank": [f.rank for f in files],
            "base_ns": [_int(f.meta.get("baseTimeNanoseconds")) or 0 for f in files],
            "pid_offset": [f.rank * PID_STRIDE if multi else 0 for f in files],
            "device_offset": [f.rank * DEVICE_STRIDE if multi else 0 for f in files],
        },
        schema=pa.schema(
            [
                ("file_idx", pa.int64()),
                ("rank", pa.int64()),
                ("base_ns", pa.int64()),
                ("pid_offset", pa.int64()),
                ("device_offset", pa.int64()),
            ]
        ),
    )


def _read_events(con: duckdb.DuckDBPyConnection, path: Path, files: list[_File]) -> None:
    limit = _DEFAULT_MAX_OBJECT
    while True:
        reads = " UNION ALL ".join(
            f"SELECT {i} AS file_idx, * FROM read_json({_sql_list(f.parts)}, "
            f"format='array', columns={_RAW_COLUMNS}, maximum_object_size={limit})"
            for i, f in enumerate(files)
        )
        con.execute(f"CREATE OR REPLACE VIEW _raw AS {reads}")
        try:
            con.execute("CREATE OR REPLACE TABLE _kineto_events_abs AS " + read_sql("ingest/kineto/events.sql"))
            break
        except duckdb.Error as exc:
            text = str(exc)
            if any(len(f.parts) > 1 for f in files):  # a cut in the wrong place, or a bad document:
                for f in files:  # read each array whole, which says which (kineto_json.split_array)
                    f.parts = [join_parts(f.parts)]
                continue
            if "maximum_object_size" in text and limit < (1 << 31) - 1:
                limit = min((1 << 31) - 1, max(limit * 4, sum(f.events_file.stat().st_size for f in files) + 1))
                continue
            first = text.strip().splitlines()[0]
            first = re.sub(r'in file "[^"]*"', "", first)
            raise TraceInputError(f"{path}: traceEvents is not a list of Chrome trace events ({first[:300]})") from exc
    zero = con.execute(read_sql("ingest/kineto/timeline_zero.sql")).fetchone()[0] or 0
    con.execute(
        f"CREATE OR REPLACE VIEW _kineto_events AS SELECT *, abs_ns - {int(zero)} AS start_ns FROM _kineto_events_abs"
    )


def _sql_list(paths: list[Path]) -> str:
    return "[" + ", ".join("'" + str(p).replace("'", "''") + "'" for p in paths) + "]"


def _convert(con: duckdb.DuckDBPyConnection, path: Path, files: list[_File]) -> "Iterator[tuple[str, pa.Table]]":
    con.register("_files", _files_table(files))
    _read_events(con, path, files)
    counts = dict(con.execute("SELECT kind, count(*) FROM _kineto_events GROUP BY kind").fetchall())
    if not any(counts.get(k) for k in _EVENT_KINDS):
        raise TraceInputError(
            f"{path}: no PyTorch profiler events (X/i events with ph, ts, cat) in traceEvents: "
            "not a Kineto trace, or an empty one"
        )
    con.execute("CREATE TABLE _kineto_launch_pids AS " + read_sql("ingest/kineto/launch_pids.sql"))
    for name, file in _TRANSFORMS.items():
        table = model.conform(name, con.sql(read_sql(f"ingest/kineto/{file}")).to_arrow_table())
        yield name, _with_short_names(table) if name == "kernels" else table
        del table
        pa.default_memory_pool().release_unused()
    ranges = con.sql(read_sql("ingest/kineto/nvtx_ranges.sql")).to_arrow_table()
    cut = pc.sum(ranges.column("cut_at_recording_end")).as_py() or 0
    nested = model.conform("nvtx_ranges", nest(model.conform("nvtx_ranges", ranges)))
    del ranges
    meta = _with_quality(con, _meta(con, path, files, counts, nested), cut)
    yield "nvtx_ranges", nested
    del nested
    yield "devices", _devices(files)
    yield "trace_meta", meta


def _with_short_names(kernels: pa.Table) -> pa.Table:
    """kernels.short_name from the demangled name by bracket depth (ingest/kernel_names.py): SQL string cuts
    turned `void (anonymous namespace)::k<...>` into nothing and `std::enable_if<...>::type f<...>` into
    "std::enable_if", and merged template instances that differ in data type."""
    i = kernels.schema.get_field_index("short_name")
    return kernels.set_column(i, kernels.schema.field(i), short_names(kernels.column("name")))


# the model table each event category feeds, for naming where an invalid event would have gone
_CATEGORY_TABLE = {
    "kernel": "kernels",
    "gpu_memcpy": "memcpy",
    "memcpy": "memcpy",
    "gpu_memset": "memset",
    "memset": "memset",
    "cuda_runtime": "api_calls",
    "runtime": "api_calls",
    "cuda_driver": "api_calls",
    "driver": "api_calls",
    "cpu_op": "nvtx_ranges",
    "operator": "nvtx_ranges",
    "user_annotation": "nvtx_ranges",
    "gpu_user_annotation": "nvtx_ranges",
    "python_function": "nvtx_ranges",
    "cuda_sync": "sync_events",
    "overhead": "profiler_overhead",
}


def _with_quality(con: duckdb.DuckDBPyConnection, meta: pa.Table, cut: int) -> pa.Table:
    """trace_meta plus the counts of events left out as invalid (negative, NaN or enormous durations, unreadable
    times), filed under the model table each would have fed: without them a trace whose kernels were all invalid
    read as one with no GPU work. `cut` is the number of ranges sql/ingest/kineto/nvtx_ranges.sql cut at the
    recording's end (its cut_at_recording_end flag), so the window is defined once, there."""
    from .nsys import with_quality

    quality: dict[tuple[str, str], int] = {}
    for cat, problem, n in con.execute(
        "SELECT cat, problem, count(*) FROM _kineto_events WHERE kind = 'invalid' GROUP BY ALL"
    ).fetchall():
        key = (_CATEGORY_TABLE.get(cat, "events"), problem or "missing_time")
        quality[key] = quality.get(key, 0) + n
    if cut:
        quality[("nvtx_ranges", "ends_after_recording")] = cut
    return with_quality(meta, quality)


def _devices(files: list[_File]) -> pa.Table:
    rows, seen = [], set()
    multi = len(files) > 1
    for f in files:
        props = f.meta.get("deviceProperties")
        for d in props if isinstance(props, list) else []:
            if not isinstance(d, dict) or _int(d.get("id")) is None:
                continue
            device_id = _int(d["id"]) + (f.rank * DEVICE_STRIDE if multi else 0)
            if device_id in seen:
                continue
            seen.add(device_id)
            rows.append(
                {
                    "device_id": device_id,
                    "cuda_ordinal": _int(d["id"]),
                    "name": d.get("name"),
                    "sm_count": _int(d.get("numSms")),
                    "total_memory_bytes": _int(d.get("totalGlobalMem")),
                    "compute_major": _int(d.get("computeMajor")),
                    "compute_minor": _int(d.get("computeMinor")),
                }
            )
    schema = model.TABLE_BY_NAME["devices"].schema
    return model.conform("devices", pa.Table.from_pylist(rows, schema=schema) if rows else schema.empty_table())


def _meta(con, path: Path, files: list[_File], counts: dict, ranges: pa.Table) -> pa.Table:
    first = files[0].meta
    info = first.get("distributedInfo") if isinstance(first.get("distributedInfo"), dict) else {}
    facts: dict[str, str] = {
        "model_version": model.MODEL_VERSION,
        "source_format": "kineto-dir" if path.is_dir() else "kineto",
        "source_tool": "pytorch-profiler",
        "kineto.trace_files": str(len(files)),
    }
    if first.get("schemaVersion") is not None:
        facts["schema_version"] = str(first["schemaVersion"])
    ranks = [f.rank for f in files if f.rank is not None]
    if len(files) == 1 and ranks:
        facts["rank"] = str(ranks[0])
    if len(files) > 1:
        facts["ranks"] = ",".join(str(r) for r in sorted(ranks))
        facts["kineto.rank_mapping"] = (
            f"pid = rank * {PID_STRIDE} + os_pid; device_id = rank * {DEVICE_STRIDE} + kineto_device"
        )
    if _int(info.get("world_size")) is not None:
        facts["world_size"] = str(_int(info["world_size"]))
    if isinstance(info.get("backend"), str):
        facts["distributed_backend"] = info["backend"]
    for key, name in (
        ("baseTimeNanoseconds", "kineto.base_time_ns"),
        ("displayTimeUnit", "kineto.display_time_unit"),
        ("cuda_runtime_version", "cuda_runtime_version"),
        ("cuda_driver_version", "cuda_driver_version"),
        ("cupti_version", "cupti_version"),
        ("host_name", "hostname"),
    ):
        if first.get(key) is not None and not isinstance(first[key], (dict, list)):
            facts[name] = str(first[key])
    zero = con.execute(read_sql("ingest/kineto/timeline_zero.sql")).fetchone()[0]
    if zero is not None and zero > 10**18:  # an epoch time (after 2001): the timeline's zero in UTC
        facts["session_start_utc_ns"] = str(int(zero))
    facts["kineto.events"] = str(sum(counts.values()))  # flow arrows are not counted (events.sql drops them)
    if counts.get("invalid"):
        facts["kineto.invalid_events"] = str(counts["invalid"])
    unknown = con.execute(
        "SELECT cat, count(*) FROM _kineto_events WHERE kind IS NULL AND cat IS NOT NULL "
        "GROUP BY cat ORDER BY 2 DESC, 1"
    ).fetchall()
    if unknown:
        facts["kineto.unused_categories"] = ",".join(f"{c}={n}" for c, n in unknown)
    con.register("_nested", ranges)
    overlaps = con.execute(
        "SELECT count(*) FROM _nested c JOIN _nested p ON p.range_id = c.parent_id WHERE c.end_ns > p.end_ns"
    ).fetchone()[0]
    if overlaps:
        facts["kineto.partially_overlapping_ranges"] = str(overlaps)
    missing = [
        what
        for what, absent in (
            ("rank", len(files) == 1 and not ranks),
            ("gpu_activity", not any(counts.get(k) for k in ("kernel", "memcpy", "memset"))),
            ("launch_calls", not any(counts.get(k) for k in ("runtime", "driver"))),
            (
                "device_properties",
                not any(isinstance(f.meta.get("deviceProperties"), list) and f.meta["deviceProperties"] for f in files),
            ),
            (
                "profiler_steps",
                not con.execute(
                    "SELECT count(*) FROM _kineto_events WHERE kind = 'user_annotation' "
                    "AND regexp_matches(name, '^ProfilerStep')"
                ).fetchone()[0],
            ),
        )
        if absent
    ]
    if missing:  # what the trace cannot tell; analyses that need it come back empty
        facts["kineto.missing"] = ",".join(missing)
    rows = [(k, redact_text(v)) for k, v in facts.items()]  # metadata is free text a trace writer chose
    return pa.table(
        {"key": [k for k, _ in rows], "value": [v for _, v in rows]}, schema=model.TABLE_BY_NAME["trace_meta"].schema
    )
