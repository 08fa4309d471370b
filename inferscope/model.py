"""The InferScope trace model: the one place that says which tables exist, their columns and units.

Every ingest path (nsys SQLite / Arrow / Parquet exports, `.nsys-rep`, Kineto JSON, recorder bundles) produces
exactly these tables, and every SQL view, metric and rule reads only these tables. Keeping the contract here,
as data, lets the cache validate what it stores, lets `docs/trace-model.md` be generated, and lets a missing
source table become an empty table with the right columns instead of a special case downstream.

Conventions (all tables):
* Times are int64 nanoseconds on one timeline per trace: the trace's session timeline, whose zero is the
  session start (`trace_meta.session_start_utc_ns` gives its UTC wall time). Columns are named `*_ns`.
* Intervals carry `start_ns`, `end_ns` and `dur_ns` (= end_ns - start_ns) so that SQL never has to quote the
  reserved word END.
* `pid`/`tid` are the operating-system ids. GPU activity carries the `pid` of the process that launched it.
* Names are resolved strings (no string-id indirection), so Parquet dictionary encoding keeps them small.
* Sizes are bytes (`*_bytes` or `bytes`). Enumerations are stored both as the raw code and as a label.

Bump MODEL_VERSION whenever a table or column changes meaning: it is part of the cache key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

MODEL_VERSION = "6"

# Types are Arrow type names, turned into pyarrow types only when a schema is asked for: a warm `inferscope stats`
# or `query` reads the tables' names from here and never needs pyarrow, whose import alone costs ~70 MB of
# resident memory and ~0.15 s.
I64 = "int64"
F64 = "double"
STR = "string"
BOOL = "bool"


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # an Arrow type name (pyarrow.type_for_alias)
    doc: str


@dataclass(frozen=True)
class Table:
    name: str
    doc: str
    columns: tuple[Column, ...]

    @property
    def schema(self) -> "pa.Schema":
        import pyarrow as pa

        return pa.schema([pa.field(c.name, pa.type_for_alias(c.type)) for c in self.columns])

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


def _interval(subject: str) -> tuple[Column, ...]:
    return (
        Column("start_ns", I64, f"when the {subject} started (ns on the trace timeline)"),
        Column("end_ns", I64, f"when the {subject} ended (ns)"),
        Column("dur_ns", I64, "end_ns - start_ns (ns)"),
    )


_GPU_PLACE = (
    Column("device_id", I64, "GPU id as the profiler numbers it (nsys TARGET_INFO_GPU.id, Kineto device)"),
    Column("context_id", I64, "CUDA context id (NULL when unknown)"),
    Column("stream_id", I64, "CUDA stream id"),
    Column("correlation_id", I64, "joins the launching API call (unique per pid)"),
    Column("pid", I64, "process that launched the work"),
)

TABLES: tuple[Table, ...] = (
    Table(
        "kernels",
        "One row per GPU kernel execution.",
        _interval("kernel")
        + _GPU_PLACE
        + (
            Column("name", STR, "demangled kernel name (with template arguments)"),
            Column("short_name", STR, "base name without arguments/templates"),
            Column("mangled_name", STR, "mangled name when recorded"),
            Column("grid_x", I64, "grid dimension x"),
            Column("grid_y", I64, "grid dimension y"),
            Column("grid_z", I64, "grid dimension z"),
            Column("block_x", I64, "block dimension x"),
            Column("block_y", I64, "block dimension y"),
            Column("block_z", I64, "block dimension z"),
            Column("registers_per_thread", I64, "registers per thread"),
            Column("static_smem_bytes", I64, "static shared memory per block (bytes)"),
            Column("dynamic_smem_bytes", I64, "dynamic shared memory per block (bytes)"),
            Column("graph_node_id", I64, "CUDA graph node id when launched from a graph, else NULL"),
            Column("graph_id", I64, "CUDA graph id when known, else NULL"),
        ),
    ),
    Table(
        "memcpy",
        "One row per GPU memory copy.",
        _interval("copy")
        + _GPU_PLACE
        + (
            Column("bytes", I64, "bytes copied"),
            Column("copy_kind", I64, "CUPTI copy kind code (1 HtoD, 2 DtoH, 8 DtoD, 10 PtoP, ...)"),
            Column("copy_kind_name", STR, "short label: HtoD, DtoH, DtoD, PtoP, HtoH, ..."),
            Column("src_kind", STR, "source memory kind: Pageable, Pinned, Device, Array, Managed, ..."),
            Column("dst_kind", STR, "destination memory kind"),
            Column("src_device_id", I64, "source device id when on a GPU"),
            Column("dst_device_id", I64, "destination device id when on a GPU"),
        ),
    ),
    Table(
        "memset",
        "One row per GPU memset.",
        _interval("memset")
        + _GPU_PLACE
        + (
            Column("bytes", I64, "bytes set"),
            Column("mem_kind", STR, "memory kind: Pageable, Pinned, Device, Managed, ..."),
            Column("value", I64, "byte value written"),
        ),
    ),
    Table(
        "api_calls",
        "CUDA runtime and driver API calls (and cuBLAS/cuDNN host calls when traced). nsys `--cudabacktrace` "
        "duplicate rows (eventClass 67) are not included; version suffixes (_v3020, _v11060) and _ptsz/_ptds are "
        "folded into `name`, the recorded spelling stays in `raw_name`.",
        _interval("API call")
        + (
            Column("pid", I64, "process id"),
            Column("tid", I64, "thread id"),
            Column("correlation_id", I64, "joins GPU work launched by this call"),
            Column("name", STR, "API name with version/ptsz suffixes folded (cudaMemcpy, cudaLaunchKernel)"),
            Column("raw_name", STR, "API name as recorded"),
            Column("api_kind", STR, "runtime | driver | cublas | cudnn | other"),
            Column("return_value", I64, "return code (0 = success) when recorded"),
        ),
    ),
    Table(
        "sync_events",
        "GPU synchronisation observed by the profiler: the host-side blocking interval of stream/event/context "
        "synchronisation (nsys CUPTI_ACTIVITY_KIND_SYNCHRONIZATION, Kineto cuda_sync).",
        _interval("synchronisation")
        + _GPU_PLACE
        + (
            Column("sync_type", STR, "event_sync | stream_wait_event | stream_sync | context_sync | unknown"),
            Column("event_id", I64, "CUDA event handle id when the sync waits on an event"),
        ),
    ),
    Table(
        "nvtx_ranges",
        "Annotated ranges: NVTX push/pop and start/end ranges, Kineto user annotations, cpu_op and ProfilerStep. "
        "Ranges still open when capture stopped are closed at the last NVTX timestamp (as nsys stats does) and "
        "flagged `unterminated`.",
        _interval("range")
        + (
            Column("range_id", I64, "unique id of the range within the trace"),
            Column("pid", I64, "process id"),
            Column("tid", I64, "thread that started the range"),
            Column("end_tid", I64, "thread that ended it, when different (start/end ranges)"),
            Column("cross_thread", BOOL, "true when the range ended on another thread"),
            Column("name", STR, "range text"),
            Column("domain", STR, "NVTX domain name (NULL = default domain)"),
            Column("style", STR, "PushPop | StartEnd"),
            Column(
                "category",
                STR,
                "origin: nvtx | user_annotation | cpu_op | profiler_step | gpu_user_annotation | python_function",
            ),
            Column("depth", I64, "nesting depth on its thread (0 = outermost)"),
            Column("parent_id", I64, "range_id of the innermost enclosing range on the same thread"),
            Column("unterminated", BOOL, "true when the range had no recorded end"),
            Column("payload_int", I64, "integer payload when present"),
            Column("payload_double", F64, "floating payload when present"),
            Column("payload_json", STR, "JSON payload / Kineto args when present"),
        ),
    ),
    Table(
        "nvtx_marks",
        "Instantaneous NVTX marks (and Kineto instant events).",
        (
            Column("ts_ns", I64, "time of the mark (ns)"),
            Column("pid", I64, "process id"),
            Column("tid", I64, "thread id"),
            Column("name", STR, "mark text"),
            Column("domain", STR, "NVTX domain name"),
            Column("payload_int", I64, "integer payload when present"),
            Column("payload_double", F64, "floating payload when present"),
            Column("payload_json", STR, "JSON payload when present"),
        ),
    ),
    Table(
        "osrt_calls",
        "OS runtime (libc/pthread) calls longer than the profiler's threshold.",
        _interval("call")
        + (
            Column("pid", I64, "process id"),
            Column("tid", I64, "thread id"),
            Column("name", STR, "function name (pthread_cond_wait, read, ...)"),
            Column("return_value", I64, "return value when recorded"),
            Column("nesting_level", I64, "nesting level of the call"),
        ),
    ),
    Table(
        "cpu_samples",
        "Periodic CPU samples: nsys CPU sampling (cpuCycles = 1 rows only) and InferScope's Python sampler.",
        (
            Column("sample_id", I64, "unique sample id"),
            Column("ts_ns", I64, "sample time (ns on the trace timeline)"),
            Column("pid", I64, "process id"),
            Column("tid", I64, "thread id (native)"),
            Column("cpu", I64, "CPU the thread ran on, when known"),
            Column("state", STR, "running | idle | waiting | ... (thread state at the sample)"),
            Column("holds_gil", BOOL, "true when the thread held the GIL (Python sampler), else NULL"),
            Column("stack_id", I64, "joins stack_frames.stack_id"),
            Column("source", STR, "nsys | python"),
        ),
    ),
    Table(
        "stack_frames",
        "Interned call stacks for cpu_samples: one row per frame.",
        (
            Column("stack_id", I64, "stack id"),
            Column("depth", I64, "0 = leaf (innermost frame), increasing towards the root"),
            Column("function", STR, "function / symbol name"),
            Column("file", STR, "source file or module"),
            Column("line", I64, "line number when known"),
        ),
    ),
    Table(
        "threads",
        "Threads seen in the trace.",
        (
            Column("pid", I64, "process id"),
            Column("tid", I64, "thread id"),
            Column("name", STR, "thread name"),
            Column("priority", I64, "scheduling priority when known"),
        ),
    ),
    Table(
        "processes",
        "Processes seen in the trace.",
        (
            Column("pid", I64, "process id"),
            Column("name", STR, "process name"),
        ),
    ),
    Table(
        "devices",
        "GPUs described by the trace (empty when the export carries no device table).",
        (
            Column("device_id", I64, "id used by kernels/memcpy.device_id"),
            Column("cuda_ordinal", I64, "CUDA device ordinal when known"),
            Column("name", STR, "product name (NVIDIA H100 80GB HBM3)"),
            Column("sm_count", I64, "streaming multiprocessors"),
            Column("total_memory_bytes", I64, "device memory (bytes)"),
            Column("memory_bandwidth_bps", I64, "peak memory bandwidth (bytes/s)"),
            Column("clock_rate_hz", I64, "SM clock (Hz)"),
            Column("compute_major", I64, "compute capability major"),
            Column("compute_minor", I64, "compute capability minor"),
            Column("bus_location", STR, "PCI bus location"),
            Column("uuid", STR, "GPU UUID"),
        ),
    ),
    Table(
        "memory_events",
        "GPU memory allocations and frees (nsys --cuda-memory-usage, Kineto [memory] events).",
        (
            Column("ts_ns", I64, "time of the operation (ns)"),
            Column("pid", I64, "process id"),
            Column(
                "tid",
                I64,
                "thread that allocated or freed, when known (nsys: through the API call's "
                "correlation id; Kineto: the event's thread)",
            ),
            Column("correlation_id", I64, "joins the API call that allocated or freed (nsys), else NULL"),
            Column("device_id", I64, "GPU id"),
            Column("address", I64, "allocation address"),
            Column(
                "bytes",
                I64,
                "bytes allocated (positive) or freed (negative; the matching allocation's size when "
                "the source records 0)",
            ),
            Column("operation", STR, "alloc | free"),
            Column(
                "mem_kind",
                STR,
                "memory kind label: Device, Device Static, Array, Managed, Managed Static, Pinned, "
                "Pageable (host memory), Unknown",
            ),
            Column("total_allocated_bytes", I64, "allocator total after the event, when the source records it"),
        ),
    ),
    Table(
        "profiler_overhead",
        "Profiler overhead intervals (nsys PROFILER_OVERHEAD): nsys counts CUDA flush overhead as GPU-busy.",
        _interval("overhead")
        + (
            Column("pid", I64, "process id"),
            Column("tid", I64, "thread id"),
            Column("name", STR, "overhead kind (CUDA profiling data flush overhead, ...)"),
        ),
    ),
    Table(
        "trace_meta",
        "Key/value facts about the trace: source_format, source_version, schema_version, "
        "session_start_utc_ns, command, hostname, model_version, and redacted environment variables "
        "(env.NAME). Values are strings.",
        (
            Column("key", STR, "fact name"),
            Column("value", STR, "fact value"),
        ),
    ),
)

TABLE_BY_NAME: dict[str, Table] = {t.name: t for t in TABLES}


def empty_table(name: str) -> "pa.Table":
    return TABLE_BY_NAME[name].schema.empty_table()


def conform(name: str, data: "pa.Table") -> "pa.Table":
    """Cast `data` to the model schema of `name`: columns reordered, missing ones NULL, extra ones dropped.

    Ingest code can then build a table from whatever the source has and still hand on the exact contract. A
    string column may stay dictionary-encoded (same values, each distinct string stored once: ingest keeps
    names that way so they are not copied per row); `plain` decodes such columns.
    """
    import pyarrow as pa

    schema = TABLE_BY_NAME[name].schema
    fields, arrays = [], []
    for field in schema:
        if field.name not in data.column_names:
            fields.append(field)
            arrays.append(pa.nulls(data.num_rows, field.type))
            continue
        col = data.column(field.name)
        if pa.types.is_dictionary(col.type) and col.type.value_type == field.type:
            fields.append(pa.field(field.name, col.type))
        else:
            col = _cast(name, field, col)
            fields.append(field)
        arrays.append(col)
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


_NUMBER = {"int": r"^\s*[-+]?\d+\s*$", "float": r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$"}


def _cast(table: str, field, col):
    """`col` as `field.type`. SQLite columns are dynamically typed, so an edited export can hold text in a
    numeric column ('many' among register counts); such cells become NULL instead of failing the whole trace.
    Anything else that cannot be cast is an input error, reported in one line."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_dictionary(col.type):
        col = col.cast(col.type.value_type)
    try:
        return col.cast(field.type)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        textual = pa.types.is_string(col.type) or pa.types.is_large_string(col.type)
        kind = "int" if pa.types.is_integer(field.type) else "float" if pa.types.is_floating(field.type) else None
        if textual and kind:
            try:
                return pc.if_else(pc.match_substring_regex(col, _NUMBER[kind]), col, None).cast(field.type)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                pass
        from .errors import TraceInputError

        raise TraceInputError(
            f"{table}.{field.name}: cannot read {col.type} values as {field.type} ({exc}); "
            "the trace looks edited or corrupt, re-export it"
        ) from exc


def plain(table: "pa.Table") -> "pa.Table":
    """`table` with dictionary-encoded columns decoded to their value type (the model's documented types)."""
    import pyarrow as pa

    if not any(pa.types.is_dictionary(t) for t in table.schema.types):
        return table
    return table.cast(
        pa.schema(
            [pa.field(f.name, f.type.value_type if pa.types.is_dictionary(f.type) else f.type) for f in table.schema]
        )
    )


def markdown() -> str:
    """The model as Markdown (docs/trace-model.md is generated from this)."""
    out = ["# InferScope trace model", "", f"Model version {MODEL_VERSION}.", "", __doc__.split("\n\n", 1)[1], ""]
    for t in TABLES:
        out += [f"## `{t.name}`", "", t.doc, "", "| column | type | meaning |", "|---|---|---|"]
        out += [f"| `{c.name}` | {c.type} | {c.doc} |" for c in t.columns]
        out.append("")
    return "\n".join(out)
