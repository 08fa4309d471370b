"""What compare measures in one trace: per-step, per-kernel and per-range samples, each under a metric id.

Every metric is normalised so that the length of the profiled window does not matter: per instance (mean kernel or
range duration), per step (step time, kernel time and launches per step). A step's time runs to the end of the GPU
work it launched, not to the end of its CPU range: a host that runs ahead of the GPU (CUDA-graph replays) closes
the range long before the step is done, and its steps would read several times faster than they are. Whole-window totals are never compared,
because a capture of 3 s is not a regression of a capture of 1 s. Typed metrics from the analysis engine
(`Trace.metrics()`, when available) join as one sample per trace.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from ..resources import sql_dir
from .names import kernel_key, range_key
from . import sample_summary
from .sample_summary import SampleSummary, kept_rank_condition, sum_of


@dataclass(frozen=True)
class MetricDef:
    id: str
    label: str
    unit: str
    polarity: str  # lower | higher | none: which direction is better
    description: str
    statistic: str = "mean"  # what stands for a side: the mean of its samples, or a percentile ('p50', 'p99')


def _request_defs() -> tuple[MetricDef, ...]:
    """The serving gate's metrics, over the completed requests of the load generator's request file joined to
    each trace: TTFT and inter-token latency at p50 and p99 (what serving SLOs are written in), request latency,
    and output tokens/s."""
    out = []
    for column, label, what in (
        ("ttft", "TTFT", "time to first token of a completed request"),
        ("itl", "inter-token latency", "a completed request's mean gap between output tokens"),
        ("latency", "request latency", "send to last response of a completed request"),
    ):
        for p in ("p50", "p99"):
            out.append(MetricDef(f"request_{column}_{p}_ns", f"{label} {p}", "ns", "lower", f"{p} of the {what}", p))
    out.append(
        MetricDef(
            "request_output_tokens_per_s",
            "output tokens/s",
            "tokens/s",
            "higher",
            "output tokens of the completed requests per second of the load generator's run",
        )
    )
    return tuple(out)


REQUEST_FAMILIES = _request_defs()
# The GPU's hardware counters per step (traces recorded with GPU metrics on both sides): they explain a step-time
# change (the same work at lower SM or Tensor Core activity), they are never gated: a higher activity is not better
# by itself.
GPU_METRIC_FAMILIES = (
    MetricDef(
        "step_sm_active_pct",
        "SMs Active per step",
        "pct",
        "none",
        "SMs with a warp resident, time-weighted over one step (GPU metrics)",
    ),
    MetricDef(
        "step_tensor_active_pct",
        "Tensor Active per step",
        "pct",
        "none",
        "Tensor Core pipes busy, time-weighted over one step (GPU metrics)",
    ),
)
# metric id -> the compare_request_samples column its samples are
_REQUEST_COLUMNS = {
    d.id: "out_tokens_rate" if d.statistic == "mean" else d.id.split("_")[1] + "_ns" for d in REQUEST_FAMILIES
}


FAMILIES: dict[str, MetricDef] = {
    d.id: d
    for d in (
        MetricDef(
            "step_time_ns",
            "step time",
            "ns",
            "lower",
            "wall time of one step, up to the end of the GPU work it launched (sql/compare/compare_step_times.sql)",
        ),
        MetricDef(
            "step_time_per_token_ns",
            "step time per token",
            "ns",
            "lower",
            "summed step time over the tokens the steps processed (prompt + generated, as vLLM's step annotations "
            "execute_context_N(T)_generation_M(G) name them)",
        ),
        MetricDef(
            "tokens_per_step",
            "tokens per step",
            "tokens",
            "none",
            "tokens a step processed (prompt + generated, from its annotation): the work, not its speed",
        ),
        MetricDef(
            "step_kernel_time_ns",
            "GPU time per step",
            "ns",
            "lower",
            "summed kernel time launched in one step, all GPUs and streams",
        ),
        MetricDef(
            "kernel_mean_ns", "kernel mean duration", "ns", "lower", "mean duration of one execution of the kernel"
        ),
        MetricDef(
            "kernel_time_per_step_ns",
            "kernel time per step",
            "ns",
            "lower",
            "time of the kernel launched in one step, summed over its executions",
        ),
        MetricDef(
            "kernel_calls_per_step",
            "kernel launches per step",
            "calls",
            "lower",
            "executions of the kernel launched in one step",
        ),
        MetricDef("range_mean_ns", "range mean duration", "ns", "lower", "mean duration of one instance of the range"),
        MetricDef("throughput_steps_per_s", "throughput", "steps/s", "higher", "steps per second: 1 / mean step time"),
        MetricDef(
            "throughput_tokens_per_s",
            "tokens/s",
            "tokens/s",
            "higher",
            "tokens per second of step time: 1 / step time per token",
        ),
        *GPU_METRIC_FAMILIES,
        *REQUEST_FAMILIES,
    )
}

# (metric id, scope, key, device_id): one compared quantity. scope groups keys (range origin, analysis scope).
SeriesId = tuple[str, str, str, "int | None"]


@dataclass
class RunData:
    """One trace reduced to what compare needs."""

    path: str
    format: str
    gpus: tuple[str, ...]
    kernels: int
    kernel_time_ns: int
    ranges: int
    steps: int
    window_ns: int
    series: dict[SeriesId, np.ndarray] = field(default_factory=dict)
    # share of the run a series stands for (kernel: of kernel time; range: of the window); absent = always gated
    shares: dict[SeriesId, float] = field(default_factory=dict)
    defs: dict[str, MetricDef] = field(default_factory=lambda: dict(FAMILIES))
    analysis: list = field(default_factory=list)  # inferscope.analyze.result.Metric objects, raw
    warmup: list = field(default_factory=list)  # durations (ns) of the warm-up steps left out (see warmup_mask)
    shapes: dict = field(default_factory=dict)  # {op name: {input dims: calls}} (record_shapes traces only)


def _views(trace) -> None:
    """Load sql/compare once per engine; steps come from the analysis engine's step_ranges when it has them."""
    if not trace.engine.has("compare_window"):
        trace.engine.load_sql_dir(sql_dir() / "compare")
        if trace.engine.has("step_ranges"):
            trace.engine.load_sql_dir(sql_dir() / "compare" / "with_analysis")


class _CodedRows:
    """A sample view's rows with each name replaced by the integer code of its matching key, in a DuckDB table
    of the trace's connection: the grouping, sums and order statistics then run in DuckDB, under its memory cap,
    and only what the series hold comes back (see sample_summary). Names are normalised in Python once per
    distinct name, not once per row."""

    def __init__(self, trace, kind: str, distinct_sql: str, key, rows_sql: str):
        self.engine = trace.engine
        self.codes_name = f"_compare_{kind}_codes"
        self.name = f"_compare_{kind}_rows"
        distinct = self.engine.query(distinct_sql)
        code_of: dict = {}
        columns = {c: distinct.column(c).to_pylist() for c in distinct.column_names}
        codes = [code_of.setdefault(key(*values), len(code_of)) for values in zip(*columns.values())]
        self.labels = list(code_of)
        self.engine.raw.register(self.codes_name, pa.table({**columns, "code": pa.array(codes, pa.int32())}))
        self.engine.con.execute(f"CREATE OR REPLACE TEMP TABLE {self.name} AS {rows_sql}")
        self.count = self.engine.rows(f"SELECT count(*) FROM {self.name}").rows[0][0]

    def samples(self) -> dict[int, "np.ndarray | SampleSummary"]:
        """Per code: every duration (ascending) up to SUMMARY_PAST of them, else their summary."""
        sums = {
            code: (int(n), int(total), int(squares))
            for code, n, total, squares in self.engine.rows(
                f"SELECT code, count(*), sum(dur_ns::HUGEINT), sum(dur_ns::HUGEINT * dur_ns) FROM {self.name} "
                "GROUP BY code"
            ).rows
        }
        kept = self.engine.query(
            f"""SELECT code, dur_ns FROM (
                    SELECT code, dur_ns, row_number() OVER (PARTITION BY code ORDER BY dur_ns) AS r,
                           count(*) OVER (PARTITION BY code) AS c
                    FROM {self.name})
                WHERE c <= {sample_summary.SUMMARY_PAST} OR {kept_rank_condition("r", "c")}
                ORDER BY code, dur_ns"""
        )
        values = _column(kept, "dur_ns").astype(float)
        out: dict = {}
        for code, part in _runs(_column(kept, "code")).items():
            n, total, squares = sums[code]
            out[code] = (
                values[part] if n <= sample_summary.SUMMARY_PAST else SampleSummary(n, total, squares, values[part])
            )
        return out

    def close(self) -> None:
        self.engine.raw.execute(f"DROP TABLE IF EXISTS {self.name}")
        self.engine.raw.unregister(self.codes_name)


def _runs(codes: np.ndarray) -> dict[int, slice]:
    """Where each code's rows lie in `codes`, which SQL returned ordered by code."""
    starts = np.flatnonzero(np.diff(codes, prepend=-1))
    return {int(codes[lo]): slice(lo, hi) for lo, hi in zip(starts, [*starts[1:], len(codes)])}


def _column(table: pa.Table, name: str) -> np.ndarray:
    return table.column(name).to_numpy(zero_copy_only=False)


def gpus(trace) -> tuple[str, ...]:
    """The GPU models the trace ran on (empty when it does not say)."""
    _views(trace)
    return tuple(sorted({r["name"] for r in trace.engine.query("SELECT name FROM compare_gpus").to_pylist()}))


def window(trace) -> RunData:
    """What a trace holds (counts, window), without its samples: enough to describe a side."""
    _views(trace)
    w = trace.engine.query("SELECT * FROM compare_window").to_pylist()[0]
    return RunData(
        path=str(trace.path),
        format=trace.format,
        gpus=gpus(trace),
        kernels=int(w["kernels"]),
        kernel_time_ns=int(w["kernel_time_ns"]),
        ranges=int(w["ranges"]),
        steps=int(w["steps"]),
        window_ns=int(w["window_ns"]),
    )


def extract(
    trace,
    strip: bool = False,
    analysis: bool = True,
    step_patterns: list[str] | None = None,
    phase_patterns: dict[str, list[str]] | None = None,
    comm_patterns: dict[str, list[str]] | None = None,
    serving_patterns: list[str] | None = None,
) -> RunData:
    """Reduce an opened Trace to compare's samples (see the module docstring).

    step_patterns (regular expressions naming step ranges) need the analysis engine, which owns step detection;
    phase_patterns ({phase: [regex]}) name the phases of the per-phase analysis metrics; comm_patterns ({family:
    [regex]}) the communication kernels and serving_patterns (regular expressions with named groups) the
    project's own scheduler-step naming, whose token counts give time per token, as `analyze` reads them.
    """
    if analysis or step_patterns:  # the analysis engine loads the serving patterns among the others
        metrics = _analysis_metrics(trace, step_patterns, phase_patterns, comm_patterns, serving_patterns)
    else:
        metrics = []
        if serving_patterns:
            from ..analyze import use_serving_patterns

            use_serving_patterns(trace, serving_patterns)
    run = window(trace)
    q = trace.engine.query
    steps = q("""SELECT t.pid, t.step_number, t.dur_ns, k.tokens
                 FROM compare_step_times t
                 LEFT JOIN compare_step_tokens k USING (pid, step_number)
                 ORDER BY t.pid, t.step_number""")
    keep = warmup_mask(_column(steps, "pid"), _column(steps, "dur_ns").astype(float)) if steps.num_rows else None
    if keep is not None and not keep.all():
        durations = _column(steps, "dur_ns")
        run.warmup = [float(d) for d in durations[~keep]]
    remap = np.where(keep, np.cumsum(keep) - 1, -1) if keep is not None else np.empty(0, dtype=np.int64)
    n_kept = int(keep.sum()) if keep is not None else 0
    _kernel_series(run, trace, n_kept, strip, remap)
    if n_kept:
        run.series[("step_time_ns", "step", "", None)] = _column(steps, "dur_ns").astype(float)[keep]
        _token_series(run, steps, keep)
        _step_gpu_metric_series(run, q, steps, keep)
    _range_series(run, trace, strip)
    for r in q("SELECT name, dims, calls FROM compare_op_shapes").to_pylist():
        if r["dims"] not in (None, "[]"):
            run.shapes.setdefault(r["name"], {})[r["dims"]] = int(r["calls"])
    _request_series(run, q("SELECT * FROM compare_request_samples"))
    run.analysis = metrics if analysis else []
    return run


def _step_gpu_metric_series(run: RunData, q, steps: pa.Table, keep: np.ndarray) -> None:
    """SMs Active and Tensor Active per kept step, where the trace has GPU metrics over every kept step."""
    if not q("SELECT count(*) AS n FROM gpu_metric_info").column("n")[0].as_py():
        return
    rows = {(r["pid"], r["step_number"]): r for r in q("SELECT * FROM compare_step_gpu_metrics").to_pylist()}
    order = [(p, n) for p, n, k in zip(_column(steps, "pid"), _column(steps, "step_number"), keep) if k]
    for column, metric in (("sm_active_pct", "step_sm_active_pct"), ("tensor_active_pct", "step_tensor_active_pct")):
        values = [rows.get((int(p), int(n)), {}).get(column) for p, n in order]
        if values and all(v is not None for v in values):
            run.series[(metric, "step", "", None)] = np.asarray(values, dtype=float)


def _token_series(run: RunData, steps: pa.Table, keep: np.ndarray) -> None:
    """Time per token, when every kept step names the tokens it processed. A step doing twice the tokens takes
    longer without being slower, so per token is the figure to judge (docs/ci.md, work changes). Its samples are
    the step times scaled by steps / tokens, so that their mean is summed time over summed tokens and resampling
    the steps spreads it by the step-to-step noise of the time."""
    counts = steps.column("tokens").to_numpy(zero_copy_only=False)
    if steps.column("tokens").null_count:
        return
    counts = counts.astype(float)[keep]
    if not len(counts) or counts.sum() <= 0:
        return
    times = _column(steps, "dur_ns").astype(float)[keep]
    run.series[("step_time_per_token_ns", "step", "", None)] = times * len(times) / counts.sum()
    run.series[("tokens_per_step", "step", "", None)] = counts


def _request_series(run: RunData, requests: pa.Table) -> None:
    """The serving gate's samples (one per completed request), when the trace has requests joined to it."""
    if not requests.num_rows:
        return
    for metric, column in _REQUEST_COLUMNS.items():
        values = requests.column(column).drop_null().to_numpy(zero_copy_only=False).astype(float)
        if len(values):
            run.series[(metric, "request", "", None)] = values


WARMUP_FACTOR = 3.0
WARMUP_MIN_STEPS = 4


def warmup_mask(pids: np.ndarray, durations: np.ndarray) -> np.ndarray:
    """Steps to keep: all but a warm-up step. The first step of a process is warm-up when it takes more than
    WARMUP_FACTOR times the median of that process's other steps (and there are at least WARMUP_MIN_STEPS):
    compilation, cuDNN autotuning, a prefill before decode steps. Left in, one such step decides the mean of 8
    steps, and a 2x slower build reads as noise; a capture half as long, whose mean it weighs twice as much in,
    reads as a change."""
    keep = np.ones(len(durations), dtype=bool)
    for pid in np.unique(pids):
        (rows,) = np.nonzero(pids == pid)
        if len(rows) >= WARMUP_MIN_STEPS and durations[rows[0]] > WARMUP_FACTOR * np.median(durations[rows[1:]]):
            keep[rows[0]] = False
    return keep


def _kernel_series(run: RunData, trace, n_steps: int, strip: bool, remap: np.ndarray) -> None:
    """Per kernel key: its per-call durations (or their summary), and with steps its time and launches per kept
    step. A kernel launched in a warm-up step left out counts as outside any step."""
    rows = _CodedRows(
        trace,
        "kernel",
        "SELECT DISTINCT name FROM kernels",
        lambda name: kernel_key(name, strip),
        """SELECT m.code, k.dur_ns, s.step_index
           FROM compare_kernel_samples k
           JOIN _compare_kernel_codes m ON m.name IS NOT DISTINCT FROM k.name
           LEFT JOIN (SELECT pid, step_number, row_number() OVER (ORDER BY pid, step_number) - 1 AS step_index
                      FROM compare_steps) s
                  ON s.pid = k.step_pid AND s.step_number = k.step_number
           WHERE k.dur_ns IS NOT NULL""",
    )
    try:
        if not rows.count:
            return
        samples = rows.samples()
        per_step = rows.engine.query(
            f"""SELECT code, step_index, sum(dur_ns)::DOUBLE AS time, count(*)::DOUBLE AS calls FROM {rows.name}
                WHERE step_index IS NOT NULL GROUP BY code, step_index ORDER BY code, step_index"""
        )
    finally:
        rows.close()
    total = sum(sum_of(v) for v in samples.values()) or 1.0
    codes, step = _column(per_step, "code"), _column(per_step, "step_index").astype(np.int64)
    time, calls = _column(per_step, "time"), _column(per_step, "calls")
    if len(remap):  # warm-up steps left out: their kernels count as outside any step
        step = remap[np.clip(step, 0, len(remap) - 1)]
    in_step = step >= 0
    codes, step, time, calls = codes[in_step], step[in_step], time[in_step], calls[in_step]
    if n_steps:
        run.series[("step_kernel_time_ns", "step", "", None)] = np.bincount(step, weights=time, minlength=n_steps)
    stepped = _runs(codes)
    for code in sorted(samples, key=lambda c: rows.labels[c]):
        key = rows.labels[code]
        sid = ("kernel_mean_ns", "kernel", key, None)
        run.series[sid] = samples[code]
        share = run.shares[sid] = sum_of(samples[code]) / total
        if not n_steps:
            continue
        part = stepped.get(code, slice(0, 0))
        per_key = {
            "kernel_time_per_step_ns": np.bincount(step[part], weights=time[part], minlength=n_steps),
            "kernel_calls_per_step": np.bincount(step[part], weights=calls[part], minlength=n_steps),
        }
        for metric, values in per_key.items():
            sid = (metric, "kernel", key, None)
            run.series[sid] = values
            run.shares[sid] = share


def _range_series(run: RunData, trace, strip: bool) -> None:
    """Per (origin, range key): the ranges' durations (or their summary) and their share of the window."""
    rows = _CodedRows(
        trace,
        "range",
        "SELECT DISTINCT coalesce(category, 'nvtx') AS category, name FROM nvtx_ranges",
        lambda category, name: (category or "nvtx", range_key(name, strip)),
        """SELECT m.code, r.dur_ns
           FROM compare_range_samples r
           JOIN _compare_range_codes m ON m.category = r.category AND m.name IS NOT DISTINCT FROM r.name
           WHERE r.dur_ns IS NOT NULL""",
    )
    try:
        samples = rows.samples() if rows.count else {}
    finally:
        rows.close()
    for code in sorted(samples, key=lambda c: rows.labels[c]):
        category, key = rows.labels[code]
        sid = ("range_mean_ns", category, key, None)
        run.series[sid] = samples[code]
        run.shares[sid] = sum_of(samples[code]) / run.window_ns if run.window_ns else 0.0


# Statistics of a distribution (percentiles, means, per-step figures) do not grow with the window.
_INTENSIVE_NAME = re.compile(r"(_p\d{1,2}|_mean|_avg|_median|_cv)(_|$)|^(phase_)?step_(?!count$)")
EXTENSIVE_UNITS = ("ns", "count", "bytes")


def is_extensive(metric) -> bool:
    """True for an analysis metric that grows with the profiled window: a total time, count or byte sum over the
    trace, a device, a process or a phase. Told from the unit and the id (docs/metrics.md names percentiles
    `_p50`, means `_mean` and per-step figures `step_*`), since the Metric contract does not say it."""
    return (
        metric.unit in EXTENSIVE_UNITS
        and metric.scope in ("trace", "device", "process", "phase")
        and not _INTENSIVE_NAME.search(metric.id)
    )


def _analysis_metrics(
    trace,
    step_patterns: list[str] | None = None,
    phase_patterns: dict[str, list[str]] | None = None,
    comm_patterns: dict[str, list[str]] | None = None,
    serving_patterns: list[str] | None = None,
) -> list:
    """Typed metrics of the analysis engine. Computing them also sets up the engine's step tables (with
    step_patterns, when given), which compare_steps reads, and the serving step names (with serving_patterns),
    which compare_step_tokens reads."""
    from ..analyze import compute_metrics

    values = compute_metrics(
        trace, step_patterns or None, phase_patterns or None, comm_patterns or None, serving_patterns or None
    )
    return [m for m in values if m.value is not None and np.isfinite(float(m.value))]


def add_analysis_series(run: RunData, per_step: bool) -> None:
    """One sample per trace for each analysis metric. Window totals are divided by the steps when every compared
    trace has steps; otherwise they are shown per second of GPU span without a polarity, because per second a
    faster build simply does more work."""
    span = next((float(m.value) for m in run.analysis if m.id == "gpu_span_ns" and m.device_id is None), 0.0)
    seconds = (span or run.window_ns) / 1e9
    for m in run.analysis:
        value, unit, polarity, mid = float(m.value), m.unit, m.polarity, f"metric:{m.id}"
        if is_extensive(m):
            if per_step and run.steps:
                value, unit, mid = value / run.steps, f"{unit}/step", mid + "/step"
            elif seconds > 0:
                value, unit, polarity, mid = value / seconds, f"{unit}/s", "none", mid + "/s"
            else:
                continue
        label = analysis_label(m.id) + (
            " per step" if mid.endswith("/step") else " per s" if mid.endswith("/s") else ""
        )
        run.defs.setdefault(mid, MetricDef(mid, label, unit, polarity, m.description))
        run.series[(mid, m.scope or "trace", m.key or "", m.device_id)] = np.array([value])


# Words of an analysis metric id as a person writes them: the unit suffix goes (the formatter shows the unit beside
# the value: "memcpy time per step -33.9 ms", not "memcpy time ns per step"), a percentage is a share, and
# abbreviations are capitalised.
_UNIT_WORDS = {"ns": None, "pct": "share"}
_ACRONYMS = {"gpu", "cpu", "api", "h2d", "d2h", "d2d", "hta", "sm", "nccl", "cv", "nvtx", "kv"}


def analysis_label(metric_id: str) -> str:
    """A label for an analysis metric's rows, from its id (see _UNIT_WORDS)."""
    words = []
    for w in metric_id.split("_"):
        w = _UNIT_WORDS.get(w, w)
        if w:
            words.append(w.upper() if w in _ACRONYMS else w)
    return " ".join(words) or metric_id
