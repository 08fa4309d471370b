"""The trace model's tables, as data: each table's name, meaning and columns with their types and units (the
package docstring states the conventions they follow). Adding a column is one edit here, next to its neighbours."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

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
            Column(
                "short_name",
                STR,
                "readable base name: nsys shortName; Kineto: the function name without namespaces, with the "
                "scalar types of its template arguments (elementwise_kernel<bf16>)",
            ),
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
            Column(
                "graph_id",
                I64,
                "CUDA graph id when launched from a graph (nsys graphId; Kineto records none, so there the "
                "cudaGraphLaunch's correlation id, one per replay), else NULL",
            ),
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
        "gpu_metrics",
        "Sampled GPU hardware metrics (nsys --gpu-metrics-devices: GPU_METRICS), one row per sample of one metric "
        "on one GPU. A sample is piecewise constant: its value holds from ts_ns to end_ns (the next sample of the "
        "same device and metric; one sampling period where the sampler paused or stopped). Names are mapped to "
        "stable ids whatever the GPU architecture and nsys version spell (gpu_metric_info has the unit and the "
        "recorded name). Empty when the trace has no GPU metrics.",
        (
            Column("ts_ns", I64, "sample time (ns on the trace timeline)"),
            Column("end_ns", I64, "when the next sample of the same device and metric replaced it (ns)"),
            Column("device_id", I64, "GPU id (devices.device_id)"),
            Column(
                "metric_id",
                STR,
                "stable metric id: sm_active_pct, sm_issue_pct, tensor_active_pct, dram_read_bw_pct, "
                "dram_write_bw_pct, pcie_rx_bw_pct, pcie_tx_bw_pct, gr_active_pct, compute_warps_pct, "
                "unallocated_warps_pct, gpc_clock_mhz, sys_clock_mhz, ... (unknown metrics: their name in lower "
                "case with `_` and a unit suffix)",
            ),
            Column("value", F64, "value in the metric's unit: pct (0-100 of peak), MHz, warps, ..."),
            Column("sample_index", I64, "position of the sample in its (device, metric) series, from 0"),
            Column(
                "cum_value_ns",
                F64,
                "integral of value over time from the series' first sample to ts_ns (value x ns): the "
                "time-weighted mean over any window is a difference of two of these (sql/views/gpu_metric_integrals.sql)",
            ),
            Column("cum_covered_ns", I64, "sampled time of the series before ts_ns (ns)"),
        ),
    ),
    Table(
        "gpu_metric_info",
        "One row per GPU metric sampled on a GPU: its unit, the name the profiler gave it, and its sampling.",
        (
            Column("device_id", I64, "GPU id"),
            Column("metric_id", STR, "stable metric id (gpu_metrics.metric_id)"),
            Column("unit", STR, "pct | MHz | warps | warps/cycle | requests | cycles | ..."),
            Column("source_name", STR, "the metric's name as recorded (SMs Active [Throughput %])"),
            Column("samples", I64, "number of samples"),
            Column("first_ns", I64, "first sample time (ns)"),
            Column("last_ns", I64, "last sample time (ns)"),
            Column("period_ns", I64, "sampling period: the median spacing of consecutive samples (ns)"),
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
        "requests",
        "Serving requests as the load generator recorded them (AIPerf profile_export.jsonl or GenAI-Perf "
        "profile_export.json), put on the trace clock through trace_meta.session_start_utc_ns "
        "(`Trace.attach_requests`, `analyze --requests`, or the file a bundle carries); empty unless a "
        "request file is attached. Failed and cancelled requests are kept, with their status and error. "
        "`serving_requests` adds the requests that scope()/mark_event() annotations name (the second source).",
        _interval("request (sent; end = last response)")
        + (
            Column(
                "request_id", STR, "the load generator's request id (AIPerf x_request_id; GenAI-Perf: #N in file order)"
            ),
            Column("source", STR, "aiperf | genai-perf (the record format the file was read as)"),
            Column("status", STR, "ok | cancelled | error"),
            Column("error_code", I64, "error code when not ok (AIPerf: HTTP status, 499 = cancelled)"),
            Column("error_type", STR, "error type when not ok (RequestCancellationError, no response, ...)"),
            Column("error_message", STR, "error message when not ok"),
            Column("utc_start_ns", I64, "when the request was sent, UTC ns (the file's timestamp_ns)"),
            Column("first_token_ns", I64, "first response token (start_ns + ttft_ns), ns on the trace timeline"),
            Column("ttft_ns", I64, "time to first token (ns)"),
            Column("ttst_ns", I64, "time from the first to the second token when recorded (ns)"),
            Column("itl_ns", F64, "inter-token latency as AIPerf: (latency - ttft) / (output tokens - 1) (ns)"),
            Column("chunks", I64, "response chunks after the first (inter_chunk_latency values; request_chunks rows)"),
            Column("icl_mean_ns", F64, "mean of the request's inter-chunk latencies (ns)"),
            Column("icl_max_ns", I64, "largest inter-chunk latency of the request (ns)"),
            Column("input_tokens", I64, "input sequence length (tokens; GenAI-Perf: usage.prompt_tokens, else NULL)"),
            Column(
                "output_tokens",
                I64,
                "output sequence length, reasoning tokens included (tokens; GenAI-Perf: usage.completion_tokens, "
                "else NULL)",
            ),
            Column("reasoning_tokens", I64, "reasoning tokens of the output when recorded"),
            Column(
                "credit_phase", STR, "the load generator's phase (AIPerf: warmup | profiling; GenAI-Perf: mode=value)"
            ),
            Column(
                "placement",
                STR,
                "where the request lies against the trace's span: inside | partial | before | after | unanchored "
                "(the trace has no UTC session start)",
            ),
        ),
    ),
    Table(
        "request_chunks",
        "Response chunks of the requests after the first token, one row per inter_chunk_latency value: when it "
        "arrived on the trace clock (first token + running sum of the latencies) and the gap before it.",
        (
            Column("request_id", STR, "requests.request_id"),
            Column("chunk_index", I64, "1 = the chunk after the first token, 2 = the next, ..."),
            Column("ts_ns", I64, "when the chunk arrived (ns on the trace timeline)"),
            Column("latency_ns", I64, "time since the previous chunk (ns)"),
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
