"""nsys export tables -> trace model tables.

The raw tables (see nsys_raw) are registered in a private DuckDB connection under their nsys names and each model
table is produced by the file of the same name in sql/ingest/nsys/. Metadata (versions, session start, capture command and the
redacted environment) is small key/value data and is gathered here in Python.
"""

from __future__ import annotations

import functools
import json
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable, Iterator

import duckdb
import numpy as np
import pyarrow as pa

from .. import duckdb_conn, model
from ..errors import TraceInputError
from ..redact import redact_argv, redact_text, redact_value
from ..resources import read_sql
from . import nesting, nvtx_stream
from .freed_memory import release_freed_memory
from .gpu_metric_names import stable_id
from .gpu_metric_series import MetricSeries
from .read_ahead import read_ahead
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
    # TARGET_INFO_GPU tells which GPU a metric source samples. GPU_METRICS itself is never loaded whole: it is
    # streamed twice (gpu_metric_series), for the info table and then for the samples.
    "gpu_metric_info": ["TARGET_INFO_GPU", "TARGET_INFO_GPU_METRICS"],
    "gpu_metrics": ["TARGET_INFO_GPU", "TARGET_INFO_GPU_METRICS"],
    "nvtx_marks": ["NVTX_EVENTS"],
    "nvtx_ranges": ["NVTX_EVENTS"],
}
_META_TABLES = [
    "META_DATA_EXPORT",
    "EXPORT_META_DATA",
    "META_DATA_CAPTURE",
    "TARGET_INFO_SESSION_START_TIME",
    "TARGET_INFO_SYSTEM_ENV",
]
# TARGET_INFO_SYSTEM_ENV names carried into trace_meta (report headers): only these, never DeviceEnvironment and
# the like, which hold the recorded environment.
_SYSTEM_FACTS = {
    "NvDriverVersion": "driver_version",
    "CudaDriverVersion": "cuda_driver_version",
    "Hostname": "hostname",
    "CpuDescription": "host_cpu",
    "CpuCores": "host_cpu_cores",
    "OsDescription": "os",
}
# what nsys writes when it could not tell (a container without /proc/cpuinfo model names): not a fact
_UNKNOWN = ("unknown",)


def iter_convert(
    read: Callable[[str], pa.Table],
    source_format: str,
    read_batches: Callable[[str], Iterable[pa.Table]] | None = None,
    count_rows: Callable[[str], int | None] | None = None,
) -> Iterator[tuple[str, pa.Table | pa.RecordBatchReader]]:
    """Yield (model table, Arrow table) one at a time, reading each raw table when first needed and dropping it
    after its last use, so peak memory is about the largest raw table rather than the whole export. `read_batches`
    gives a raw table's rows in batches, in stored order (by default: `read`, whole); GPU_METRICS, which can hold
    hundreds of millions of samples, is read only that way, and `gpu_metrics` comes as a RecordBatchReader that
    must be consumed before the next table is asked for. `count_rows` says about how many rows a raw table has
    (None: unknown); an NVTX_EVENTS of more than nvtx_stream.STREAM_ROWS is streamed through a temporary file and
    `nvtx_ranges` comes as a RecordBatchReader too."""
    stream_nvtx = False
    streamed: set[str] = set()  # raw tables converted batch by batch (ROW_STREAMED), never read whole
    if read_batches is None:
        read_batches = lambda name: [read(name)]  # noqa: E731
    elif count_rows is not None:
        nvtx_rows = count_rows("NVTX_EVENTS")
        stream_nvtx = nvtx_rows is not None and nvtx_rows > nvtx_stream.STREAM_ROWS
        for raw_name in ROW_STREAMED.values():
            rows = count_rows(raw_name)
            if rows is not None and rows > STREAM_ROWS:
                streamed.add(raw_name)
    order = list(_NEEDS)
    raw_order = list(dict.fromkeys(raw for t in order for raw in _NEEDS[t]))
    if stream_nvtx:
        raw_order.remove("NVTX_EVENTS")  # never read whole
    for raw_name in streamed:
        raw_order.remove(raw_name)
    last_use = {raw: max(i for i, t in enumerate(order) if raw in _NEEDS[t]) for raw in raw_order}
    con = duckdb_conn.connect()
    # Reading SQLite (ADBC, GIL released) overlaps with DuckDB's transform of the previous table.
    pool = ThreadPoolExecutor(max_workers=1)
    pending = {}

    def prefetch(k: int) -> None:
        if k < len(raw_order) and raw_order[k] not in pending:
            pending[raw_order[k]] = pool.submit(read, raw_order[k])

    quality: dict[tuple[str, str], int] = {}
    staged = None
    try:
        string_ids = _unique_string_ids(read("StringIds"), quality)
        strings = StringTable.from_string_ids(string_ids)
        con.register("StringIds", string_ids)
        prefetch(0)
        loaded: set[str] = set()
        for i, table_name in enumerate(order):
            for raw_name in _NEEDS[table_name]:
                if raw_name in streamed:
                    continue
                if raw_name == "NVTX_EVENTS" and stream_nvtx:
                    if staged is None:
                        try:
                            staged = nvtx_stream.StagedNvtx(
                                read_batches(raw_name),
                                functools.partial(_staged_nvtx_batch, strings=strings, quality=quality),
                            )
                        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:  # text where numbers go
                            raise _corrupt(table_name, exc) from exc
                        staged.register(con)
                    continue
                if raw_name not in loaded:
                    table = check_times(raw_name, pending.pop(raw_name).result(), quality)
                    prefetch(raw_order.index(raw_name) + 1)
                    if raw_name == "NVTX_EVENTS":
                        table = _nvtx_events(table, strings)
                        release_freed_memory()
                    elif raw_name == "TARGET_INFO_GPU_METRICS":
                        table = _gpu_metric_names(table, strings)
                    con.register(raw_name, table)
                    loaded.add(raw_name)
                    del table
            try:
                if table_name == "memory_events" and "CUPTI_ACTIVITY_KIND_RUNTIME" in streamed:
                    # the runtime table streamed by: its SQL reads the calls kept then (_memory_event_calls)
                    con.execute("CREATE OR REPLACE VIEW CUPTI_ACTIVITY_KIND_RUNTIME AS SELECT * FROM _runtime_kept")
                if table_name == "gpu_metric_info":
                    metric_series = _scan_gpu_metrics(con, read_batches)
                if table_name == "gpu_metrics":
                    result = metric_series.samples(_streamed_schema("gpu_metrics"))
                elif table_name == "nvtx_ranges" and stream_nvtx:
                    result = nvtx_stream.sorted_ranges(con, strings.resolve, functools.partial(_corrupt, table_name))
                elif ROW_STREAMED.get(table_name) in streamed:
                    keep = None
                    if table_name == "api_calls":  # the few calls memory_events joins to, kept as they stream by
                        name = "CUDA_GPU_MEMORY_USAGE_EVENTS"  # read through the queue (one reader connection)
                        pending.setdefault(name, pool.submit(read, name))
                        keep = _memory_event_calls(con, pending[name].result())
                    result = _row_stream(con, table_name, read_batches, strings, quality, keep)
                else:
                    result = strings.resolve(con.sql(read_sql(f"ingest/nsys/{table_name}.sql")).to_arrow_table())
            except (duckdb.Error, pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                # e.g. text where nsys writes timestamps: an edited or corrupt export
                raise _corrupt(table_name, exc) from exc
            if i == len(order) - 1:
                # the last table that names things: its strings (NVTX texts among them, possibly gigabytes of
                # them) now live in `result` and are not held twice through nesting and writing
                strings = None
                release_freed_memory()
            # release raw tables before nesting and writing: NVTX_EVENTS alone is ~500 MB at 5M ranges
            for raw_name in _NEEDS[table_name]:
                if last_use.get(raw_name) == i and raw_name in loaded:
                    con.unregister(raw_name)
                    loaded.discard(raw_name)
                    release_freed_memory()
            if table_name == "nvtx_ranges" and not stream_nvtx:
                result = nest_ranges(con, result)
            yield table_name, result if isinstance(result, pa.RecordBatchReader) else model.conform(table_name, result)
            del result
        for future in pending.values():
            future.result()
        raw_meta = {name: read(name) for name in _META_TABLES}
        raw_meta["TARGET_INFO_SESSION_START_TIME"] = _numeric_session_start(
            raw_meta["TARGET_INFO_SESSION_START_TIME"], quality
        )
        yield "trace_meta", with_quality(_meta(raw_meta, source_format), quality)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        con.close()
        if staged is not None:
            staged.close()


# Model tables whose raw table is converted batch by batch past STREAM_ROWS rows: each row stands alone (joined
# only to StringIds), and at 10M kernels and 17M runtime calls the raw table and its conversion held side by side
# (with the next raw table read meanwhile) were most of a 4.3 GB conversion.
ROW_STREAMED = {"kernels": "CUPTI_ACTIVITY_KIND_KERNEL", "api_calls": "CUPTI_ACTIVITY_KIND_RUNTIME"}
STREAM_ROWS = 4_000_000


def _memory_event_calls(con, events: pa.Table) -> str:
    """Set up `_runtime_kept`, the runtime calls memory_events.sql joins to (those sharing a correlation id with
    one of the memory `events`), to be filled while the runtime table streams by; the INSERT that fills it from
    one batch."""
    import pyarrow.compute as pc

    ids = events.column("correlationId") if "correlationId" in events.column_names else pa.array([], pa.int64())
    con.register("_memory_correlation", pa.table({"correlationId": pc.unique(ids.cast(pa.int64()))}))
    con.execute("CREATE OR REPLACE TABLE _runtime_kept (globalTid BIGINT, correlationId BIGINT, eventClass BIGINT)")
    return (
        "INSERT INTO _runtime_kept SELECT globalTid, correlationId, eventClass FROM CUPTI_ACTIVITY_KIND_RUNTIME "
        "WHERE correlationId IN (SELECT correlationId FROM _memory_correlation)"
    )


def _row_stream(con, table_name: str, read_batches, strings: StringTable, quality: dict, keep: str | None):
    """`table_name` converted from its raw table one batch at a time (ROW_STREAMED), as a RecordBatchReader to be
    read before the next table is asked for; `keep` runs on each raw batch as well (see _memory_event_calls)."""
    raw_name = ROW_STREAMED[table_name]
    sql = read_sql(f"ingest/nsys/{table_name}.sql")

    def converted() -> Iterator[pa.Table]:
        try:
            for batch in read_ahead(read_batches(raw_name)):  # the next batch is read meanwhile
                con.register(raw_name, check_times(raw_name, batch, quality))
                del batch
                if keep:
                    con.execute(keep)
                yield model.conform(table_name, strings.resolve(con.sql(sql).to_arrow_table()))
                con.unregister(raw_name)
        except (duckdb.Error, pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise _corrupt(table_name, exc) from exc

    tables = converted()
    first = next(tables, None)
    if first is None:
        return pa.RecordBatchReader.from_batches(_streamed_schema(table_name), iter(()))
    schema = first.schema

    def rest() -> Iterator[pa.RecordBatch]:
        yield from first.combine_chunks().to_batches()
        for table in tables:
            yield from table.cast(schema).combine_chunks().to_batches()

    return pa.RecordBatchReader.from_batches(schema, rest())


def _staged_nvtx_batch(batch: pa.Table, first_row: int, strings: StringTable, quality: dict) -> pa.Table:
    """One raw NVTX_EVENTS batch of a streamed table, checked and prepared as the whole table would be."""
    return _nvtx_events(check_times("NVTX_EVENTS", batch, quality), strings, first_row)


def _corrupt(table_name: str, exc: Exception) -> TraceInputError:
    """The one line for a raw table the SQL cannot convert (e.g. text where nsys writes timestamps)."""
    first = str(exc).strip().splitlines()[0]
    return TraceInputError(
        f"cannot convert the export's {', '.join(_raw_inputs(table_name))} to "
        f"{table_name} ({first}); the export looks edited or corrupt, re-export it"
    )


# ------------------------------------------------------------------------------------------- impossible values
#
# A profiler never writes these, but edited, merged or half-written exports do, and each one used to turn into a
# wrong number without a word: a row whose end precedes its start gave negative kernel time, a NULL start or end
# dropped the row's time from every total, an end of INT64_MAX overflowed the sums, a StringIds id listed twice
# doubled every row that joined on it. Such rows are left out of the model (they cannot be placed on a timeline)
# and counted; the counts go into trace_meta as `quality.<table>.<problem>` with a `quality_note.` line saying
# what it means, so a report can show them and `Trace.quality()` can return them.

# Durations longer than a week, or timestamps further than 2**61 ns from the session's zero, are not measurements:
# both bounds are far beyond any real session and keep every later subtraction inside int64.
MAX_DURATION_NS = 7 * 86400 * 10**9
MAX_ABS_TIME_NS = 1 << 61

# raw table -> (model table the counts are filed under, whether `end` may be NULL)
_TIMED = {
    "CUPTI_ACTIVITY_KIND_KERNEL": ("kernels", False),
    "CUPTI_ACTIVITY_KIND_MEMCPY": ("memcpy", False),
    "CUPTI_ACTIVITY_KIND_MEMSET": ("memset", False),
    "CUPTI_ACTIVITY_KIND_RUNTIME": ("api_calls", False),
    "CUPTI_ACTIVITY_KIND_SYNCHRONIZATION": ("sync_events", False),
    "OSRT_API": ("osrt_calls", False),
    "PROFILER_OVERHEAD": ("profiler_overhead", False),
    # marks have no end, and a range left open is closed by nvtx_ranges.sql (and flagged there)
    "NVTX_EVENTS": ("nvtx_ranges", True),
    "COMPOSITE_EVENTS": ("cpu_samples", True),
    "CUDA_GPU_MEMORY_USAGE_EVENTS": ("memory_events", True),
}

QUALITY_NOTES = {
    "missing_time": "rows without a start or end time; left out",
    "end_before_start": "rows that end before they start (negative duration); left out",
    "huge_duration": "rows lasting over a week or timed beyond 2^61 ns (e.g. an end of INT64_MAX); left out",
    "negative_duration": "events with a negative duration; left out",
    "missing_duration": "events whose duration is missing or not a number (NaN); left out",
    "duplicate_id": "StringIds rows repeating an earlier id; the first one is used",
    "bad_session_start": "the session start (utcEpochNs) is not a number; UTC times are unknown",
    "ends_after_recording": "ranges that end after the profiler stopped recording; cut at the recording's end",
}


def check_times(raw_name: str, table: pa.Table, quality: dict[tuple[str, str], int]) -> pa.Table:
    """`table` without rows whose times are impossible, each problem counted in `quality` under the model table
    the rows would have fed. Columns of text are left alone: the SQL step rejects them with its own message."""
    spec = _TIMED.get(raw_name)
    if spec is None or table.num_rows == 0:
        return table
    import pyarrow.compute as pc

    label, end_optional = spec
    cols = {}
    for name in ("start", "end"):
        if name not in table.column_names:
            continue
        col = table.column(name)
        if pa.types.is_null(col.type):
            col = col.cast(pa.int64())
        if pa.types.is_floating(col.type):  # REAL in SQLite: NaN is as good as missing
            col = pc.if_else(pc.is_nan(col), pa.scalar(None, col.type), col)
        elif not pa.types.is_integer(col.type):
            return table
        cols[name] = col
    start, end = cols["start"], cols.get("end")
    missing = pc.is_null(start)
    out_of_range = pc.or_(pc.greater(start, MAX_ABS_TIME_NS), pc.less(start, -MAX_ABS_TIME_NS))
    backwards = pa.nulls(table.num_rows, pa.bool_())
    if end is not None:
        if not end_optional:
            missing = pc.or_(missing, pc.is_null(end))
        out_of_range = pc.or_kleene(
            out_of_range, pc.or_(pc.greater(end, MAX_ABS_TIME_NS), pc.less(end, -MAX_ABS_TIME_NS))
        )
        # compared in float64 so that no subtraction can wrap; exact enough for a one-week bound
        span = pc.subtract(pc.cast(end, pa.float64(), safe=False), pc.cast(start, pa.float64(), safe=False))
        out_of_range = pc.or_kleene(out_of_range, pc.greater(span, float(MAX_DURATION_NS)))
        backwards = pc.less(end, start)
    missing = pc.fill_null(missing, False)
    huge = pc.and_(pc.invert(missing), pc.fill_null(out_of_range, False))
    backwards = pc.and_(pc.invert(pc.or_(missing, huge)), pc.fill_null(backwards, False))
    bad = pc.or_(pc.or_(missing, huge), backwards)
    if not pc.any(bad).as_py():
        return table
    for problem, mask in (("missing_time", missing), ("huge_duration", huge), ("end_before_start", backwards)):
        n = pc.sum(pc.cast(mask, pa.int64())).as_py() or 0
        if n:
            quality[(label, problem)] = quality.get((label, problem), 0) + n
    keep = pc.invert(bad)
    table = table.filter(keep)
    for name, col in cols.items():  # floats that held whole nanoseconds become the integers nsys writes
        if col.type != table.schema.field(name).type or pa.types.is_floating(col.type):
            fixed = col.filter(keep)
            if pa.types.is_floating(fixed.type):
                fixed = pc.cast(pc.round(fixed), pa.int64())
            table = table.set_column(table.schema.get_field_index(name), name, fixed)
    return table


def _unique_string_ids(table: pa.Table, quality: dict[tuple[str, str], int]) -> pa.Table:
    """StringIds with each id once (the first row wins): a repeated id would match every row that names it
    twice in the SQL joins, doubling call counts and times."""
    if table.num_rows == 0 or table.column("id").null_count == table.num_rows:
        return table
    import pyarrow.compute as pc

    ids = table.column("id")
    if pc.count_distinct(ids, mode="all").as_py() == table.num_rows:
        return table
    _, first = np.unique(ids.to_numpy(zero_copy_only=False), return_index=True)
    quality[("strings", "duplicate_id")] = table.num_rows - len(first)
    return table.take(pa.array(np.sort(first)))


def _numeric_session_start(table: pa.Table, quality: dict[tuple[str, str], int]) -> pa.Table:
    """TARGET_INFO_SESSION_START_TIME with utcEpochNs as an integer, or NULL (counted) when it is not one."""
    if table.num_rows == 0 or pa.types.is_integer(table.column("utcEpochNs").type):
        return table
    values = []
    for v in table.column("utcEpochNs").to_pylist():
        try:
            values.append(None if v is None else int(str(v).strip()) if not isinstance(v, float) else int(v))
        except (ValueError, OverflowError):
            values.append(None)
    if any(v is None for v, raw in zip(values, table.column("utcEpochNs").to_pylist()) if raw is not None):
        quality[("trace_meta", "bad_session_start")] = 1
    values = [v if v is None or -(1 << 63) <= v < (1 << 63) else None for v in values]
    return pa.table({"utcEpochNs": pa.array(values, pa.int64())})


def with_quality(meta: pa.Table, quality: dict[tuple[str, str], int]) -> pa.Table:
    """trace_meta plus `quality.<table>.<problem>` = count and `quality_note.<table>.<problem>` = what it means."""
    if not quality:
        return meta
    rows = []
    for (label, problem), n in sorted(quality.items()):
        rows.append((f"quality.{label}.{problem}", str(n)))
        rows.append((f"quality_note.{label}.{problem}", QUALITY_NOTES.get(problem, problem.replace("_", " "))))
    extra = pa.table({"key": [k for k, _ in rows], "value": [v for _, v in rows]}, schema=meta.schema)
    return pa.concat_tables([meta, extra])


def _raw_inputs(table_name: str) -> list[str]:
    return [*_NEEDS[table_name], *(["GPU_METRICS"] if table_name.startswith("gpu_metric") else [])]


def _scan_gpu_metrics(
    con: duckdb.DuckDBPyConnection, read_batches: Callable[[str], Iterable[pa.Table]]
) -> MetricSeries:
    """Pass 1 over GPU_METRICS (gpu_metric_series), registered as GPU_METRIC_SERIES for gpu_metric_info.sql, with
    the pairing of metric sources and GPUs (gpu_metric_sources.sql) as a view both tables use."""
    con.execute("CREATE OR REPLACE TEMP VIEW gpu_metric_sources AS " + read_sql("ingest/nsys/gpu_metric_sources.sql"))
    rows = con.sql("SELECT typeId, metricId, device_id, metric_id, unit FROM gpu_metric_sources").fetchall()
    sources = {(int(t), int(m)): (int(d), str(i), str(u)) for t, m, d, i, u in rows}
    series = MetricSeries(lambda: read_batches("GPU_METRICS"), sources)
    con.register("GPU_METRIC_SERIES", series.info())
    return series


def _streamed_schema(table_name: str) -> pa.Schema:
    """The model schema of a streamed table, its string columns dictionary-encoded (as `StringTable.resolve`
    hands them on)."""
    schema = model.TABLE_BY_NAME[table_name].schema
    return pa.schema(
        [pa.field(f.name, pa.dictionary(pa.int32(), pa.string())) if pa.types.is_string(f.type) else f for f in schema]
    )


def _nvtx_events(table: pa.Table, strings: StringTable, first_row: int = 0) -> pa.Table:
    """NVTX_EVENTS as the SQL reads it: inline texts replaced by string ids (`_text_sid`, so a range name is
    never copied per row) and `_row`, the row position (from `first_row` for a batch of a streamed table), for
    stable range ids without a global sort."""
    text_ids = strings.add_texts(table.column("text"))
    table = table.drop_columns(["text"]).append_column("_text_sid", text_ids)
    rows = np.arange(first_row, first_row + table.num_rows, dtype=np.int64)
    return table.append_column("_row", pa.array(rows))


def _gpu_metric_names(table: pa.Table, strings: StringTable) -> pa.Table:
    """TARGET_INFO_GPU_METRICS with each metric's stable id and unit (`gpu_metric_names`), the id also as a
    string id (`metric_id__sid`) so that the per-sample column is a dictionary, not one string per sample."""
    names = [None if v is None else str(v) for v in table.column("metricName").to_pylist()]
    ids, units = zip(*(stable_id(n) for n in names)) if names else ((), ())
    return pa.table(
        {
            "typeId": table.column("typeId").cast(pa.int64()),
            "metricId": table.column("metricId").cast(pa.int64()),
            "metricName": pa.array(names, pa.string()),
            "metric_id": pa.array(ids, pa.string()),
            "metric_id__sid": strings.add_texts(pa.array(ids, pa.string())),
            "unit": pa.array(units, pa.string()),
        }
    )


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
    system = dict(_pairs(raw["TARGET_INFO_SYSTEM_ENV"]))
    facts["system_env"] = "present" if system else "absent"
    for name, key in _SYSTEM_FACTS.items():
        if system.get(name, "").strip() and system[name].strip().lower() not in _UNKNOWN:
            facts[key] = system[name].strip()
    gpu_names = _gpu_info_names(system.get("GpuInfo"))
    if gpu_names:
        facts["gpu_names"] = json.dumps(gpu_names)
    command: list[str] = []
    env: list[tuple[str, str]] = []
    for name, value in _pairs(raw["META_DATA_CAPTURE"]):
        if name == "PROCESS_0:COMMAND":
            command.insert(0, value)
        elif re.fullmatch(r"PROCESS_0:ARGUMENT_\d+", name):
            command.append(value)
        elif name == "PROCESS_0:WORKING_DIR":
            facts["cwd"] = redact_text(value)
        elif name == "PROCESS_0:ENVIRONMENT_VARIABLE":
            m = _ENV_ITEM.match(value)
            if m:
                env.append((m.group("name"), redact_value(m.group("name"), m.group("value"))))
        elif name in ("DEVICE_DISPLAY_NAME", "CUDA_GRAPH_TRACE_OPTIONS:MODE", "COLLECT_GPU_MEMORY_USAGE"):
            facts["capture." + name.lower().replace(":", ".")] = value
    if command:
        facts["command"] = " ".join(redact_argv(command))  # argument-wise: `--token abc` spans two arguments
    rows = list(facts.items()) + [(f"env.{k}", v) for k, v in env]
    return pa.table(
        {"key": [k for k, _ in rows], "value": [v for _, v in rows]}, schema=model.TABLE_BY_NAME["trace_meta"].schema
    )


def _gpu_info_names(text: str | None) -> list[str]:
    """GPU names from the GpuInfo JSON nsys writes into TARGET_INFO_SYSTEM_ENV (present where TARGET_INFO_GPU is
    not, e.g. exports of sessions that saw no CUDA context on some GPUs)."""
    try:
        gpus = json.loads(text or "{}").get("Gpus") or []
    except (ValueError, AttributeError):
        return []
    return [str(g["Name"]) for g in gpus if isinstance(g, dict) and g.get("Name")]
