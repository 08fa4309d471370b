"""What a report shows, as plain data: the trace's identity, GPU time per device, top kernels and ranges, the
timeline bins for the charts, and the analysis (verdict, metrics, ranked findings, steps).

Everything here is aggregated in DuckDB (sql/report/), so the report's size depends on the number of devices,
bins and findings, never on the number of events. Rendering (report.py) only formats what is built here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ..version import __version__
from . import facts
from .tables import is_fragment
from ..resources import sql_dir

if TYPE_CHECKING:
    import pyarrow as pa

    from ..analyze.result import Analysis
    from ..engine.trace import Trace

N_BINS = 240
TOP_N = 10
EVIDENCE_ROWS = 12
BUSY_VIEW = "gpu_busy"  # sql/views/gpu_busy.sql: the interval union per device and kind


@dataclass
class Finding:
    """A finding as the report shows it: the analysis' Finding with its evidence cut to the rows shown."""

    rank: int
    rule_id: str
    title: str
    severity: str
    impact_ns: int
    summary: str
    recommendation: str
    why: str
    where: str
    columns: list[str]
    rows: list[list[Any]]
    total_rows: int
    windows: int = 0
    constants: list[tuple[str, Any]] = field(default_factory=list)  # columns with one value in every row


@dataclass
class Metric:
    id: str
    label: str
    value: Any
    unit: str
    polarity: str
    scope: str
    description: str = ""


# The metrics worth a card at the top of the report, in order, with a short label (docs/metrics.md has them all).
KEY_METRICS = (
    ("gpu_busy_pct", "GPU busy"),
    ("compute_busy_pct", "kernels running"),
    ("copy_busy_pct", "copies running"),
    ("gpu_idle_ns", "GPU idle (all GPUs)"),
    ("sync_exposed_idle_ns", "idle exposed by host waits"),
    ("step_time_p50_ns", "step time p50"),
    ("step_time_p99_ns", "step time p99"),
    ("step_gpu_busy_pct_p50", "GPU busy per step (p50)"),
    ("kernel_count", "kernels"),
    ("launch_call_count", "launch calls"),
    ("short_kernel_pct", "kernels shorter than their launch"),
    ("h2d_bytes", "copied host to device"),
    ("comm_exposed_ns", "exposed NCCL time"),
)


@dataclass
class ReportData:
    trace_name: str
    source_format: str
    meta: dict[str, str]
    devices: list[dict]
    window: dict | None
    breakdown: list[dict]
    top_kernels: list[dict]
    top_ranges: list[dict]
    bins: dict[int, dict[str, Any]]
    headline: str | None = None
    key_metrics: list[Metric] = field(default_factory=list)
    metrics: list[Metric] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    steps: list[dict] = field(default_factory=list)
    step_stats: dict | None = None
    phases: list[dict] = field(default_factory=list)
    # GPU hardware metrics per phase (sql/report/report_gpu_metric_phases.sql); empty without GPU metrics
    gpu_metric_phases: list[dict] = field(default_factory=list)
    # ... per step (report_gpu_metric_steps, the first 50 steps) and downsampled to the timeline's bins for the chart
    # under it (report_gpu_metric_bins): {device: {"t_ns": [...], "w_ns": width, metric_id: [...]}}
    gpu_metric_steps: list[dict] = field(default_factory=list)
    gpu_metric_bins: dict[int, dict[str, Any]] = field(default_factory=dict)
    facts: list = field(default_factory=list)  # render/facts.Fact: GPU, SMs, driver, CUDA, host (or why not)
    # rows the conversion left out as impossible: {table, problem, count, description}, largest first
    data_quality: list[dict] = field(default_factory=list)
    # the serving block as lines (render/serving_text.py) when a request file was joined; empty otherwise
    serving_lines: list[str] = field(default_factory=list)
    # per-request latencies for the charts (ms): TTFT of each completed request, every gap between streamed chunks,
    # with AIPerf's p50/p90/p99 of each (request_summary); empty without requests in the trace
    request_ttft_ms: list[float] = field(default_factory=list)
    request_gap_ms: list[float] = field(default_factory=list)
    request_marks: dict[str, tuple[float, float, float]] = field(default_factory=dict)
    # the slowest requests (end to end) with what the GPU did while each was in flight
    serving_slowest: list[dict] = field(default_factory=list)
    # the part of the trace the analysis covered (--window / --skip-warmup), as a phrase; empty for the whole trace
    analysed_window: str = ""
    generated_utc: str = ""
    version: str = __version__

    @property
    def has_gpu(self) -> bool:
        return self.window is not None

    @property
    def t0_ns(self) -> int:
        """Time zero of the charts and evidence tables: the first GPU activity (else the session start)."""
        return self.window["start_ns"] if self.window else 0

    @property
    def session_start_utc(self) -> str | None:
        ns = self.meta.get("session_start_utc_ns")
        if not ns or not str(ns).lstrip("-").isdigit():
            return None
        return datetime.fromtimestamp(int(ns) / 1e9, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _load_views(trace: "Trace", n_bins: int, top_n: int) -> None:
    con = trace.engine.con
    con.execute(f"SET VARIABLE report_n_bins = {int(n_bins)}")
    con.execute(f"SET VARIABLE report_top_n = {int(top_n)}")
    trace.engine.load_sql_dir(sql_dir() / "report")
    # The busy-interval sweep feeds three views; store it once (a temp table shadows the view of the same name,
    # as the analysis engine does for its shared views) unless an earlier step already did, or a stored analysis
    # left a temporary view over the stored table.
    if not trace.engine.raw.execute(
        "SELECT (SELECT count(*) FROM duckdb_tables() WHERE temporary AND table_name = $n) "
        "+ (SELECT count(*) FROM duckdb_views() WHERE temporary AND view_name = $n)",
        {"n": BUSY_VIEW},
    ).fetchall()[0][0]:
        trace.engine.create_table(BUSY_VIEW, f"SELECT * FROM main.{BUSY_VIEW}")


def _rows(trace: "Trace", sql: str) -> list[dict]:
    return trace.engine.query(sql).to_pylist()


def build(
    trace: "Trace",
    analysis: "Analysis | None" = None,
    *,
    n_bins: int = N_BINS,
    top_n: int = TOP_N,
    evidence_rows: int = EVIDENCE_ROWS,
) -> ReportData:
    """Collect everything a Markdown or HTML report needs from `trace` and its `analysis` (optional)."""
    _load_views(trace, n_bins, top_n)
    window = _rows(trace, "SELECT * FROM report_gpu_window")[0]
    bins: dict[int, dict[str, Any]] = {}
    for r in _rows(trace, "SELECT * FROM report_timeline_bins ORDER BY device_id, bin"):
        b = bins.setdefault(r["device_id"], {"t_ns": [], "w_ns": r["bin_ns"], "compute": [], "copy": [], "busy": []})
        b["t_ns"].append(r["bin_start_ns"])
        b["compute"].append(r["compute_busy_ns"])
        b["copy"].append(r["copy_busy_ns"])
        b["busy"].append(r["busy_ns"])
    data = ReportData(
        trace_name=trace.path.name,
        source_format=trace.format,
        meta={k: v for k, v in trace.meta.items() if not k.startswith("env.")},
        devices=_rows(trace, "SELECT * FROM report_devices"),
        window=window if window["start_ns"] is not None else None,
        breakdown=_rows(trace, "SELECT * FROM report_busy_breakdown ORDER BY device_id"),
        top_kernels=_rows(trace, "SELECT * FROM report_top_kernels"),
        top_ranges=_rows(trace, "SELECT * FROM report_top_ranges"),
        gpu_metric_phases=_rows(trace, "SELECT * FROM report_gpu_metric_phases"),
        bins=bins,
        facts=facts.from_trace(trace),
        data_quality=_quality_rows(trace.quality()),
        generated_utc=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    )
    has_metrics = _rows(trace, "SELECT count(*) AS n FROM gpu_metric_info")[0]["n"] > 0
    if has_metrics:
        data.gpu_metric_bins = _metric_bins(trace)
    if analysis is not None:
        _add_analysis(data, analysis, evidence_rows)
        if has_metrics:  # the steps are the analysis's (its step patterns)
            data.gpu_metric_steps = _rows(trace, "SELECT * FROM report_gpu_metric_steps")
        data.analysed_window = (getattr(analysis, "window", None) or {}).get("text", "")
        if analysis.serving is not None:
            _add_requests(data, trace, analysis.serving)
    return data


def _add_requests(data: ReportData, trace: "Trace", serving: dict) -> None:
    """The per-request section's data: latencies from the requests the trace holds (a trace reopened without its
    request file has none, and the charts are left out), AIPerf's percentiles from the analysis, and the slowest
    requests with their kernel classes and idle causes (request_gpu_breakdown)."""
    summary = {r["tag"]: r for r in serving.get("summary") or []}
    for tag in ("ttft", "inter_chunk_latency"):
        row = summary.get(tag) or {}
        if all(row.get(k) is not None for k in ("p50", "p90", "p99")):
            data.request_marks[tag] = (row["p50"], row["p90"], row["p99"])
    ttft = _rows(trace, "SELECT ttft_ns FROM requests WHERE status = 'ok' AND ttft_ns IS NOT NULL ORDER BY ttft_ns")
    gaps = _rows(trace, "SELECT latency_ns FROM request_chunks WHERE latency_ns IS NOT NULL ORDER BY latency_ns")
    data.request_ttft_ms = [r["ttft_ns"] / 1e6 for r in ttft]
    data.request_gap_ms = [r["latency_ns"] / 1e6 for r in gaps]
    parts: dict[str, dict[str, list[str]]] = {}
    for b in serving.get("slowest_breakdown") or []:
        if b.get("pct") is not None and b["pct"] >= 1:
            parts.setdefault(b["request_id"], {}).setdefault(b["dimension"], []).append(f"{b['label']} {b['pct']:.0f}%")
    for r in serving.get("slowest_e2e") or []:
        mine = parts.get(r["request_id"], {})
        data.serving_slowest.append(
            {
                **r,
                "kernels": ", ".join(mine.get("kernel_class", [])[:3]),
                "idle": ", ".join(mine.get("idle_cause", [])[:3]),
            }
        )


def _metric_bins(trace: "Trace") -> dict[int, dict[str, Any]]:
    """The counters per timeline bin, one list per metric in bin order (None where a bin holds no sample)."""
    out: dict[int, dict[str, Any]] = {}
    for r in _rows(trace, "SELECT * FROM report_gpu_metric_bins ORDER BY device_id, metric_id, bin"):
        d = out.setdefault(r["device_id"], {"t_ns": [], "w_ns": r["bin_ns"]})
        values = d.setdefault(r["metric_id"], [])
        if len(values) == len(d["t_ns"]):
            d["t_ns"].append(r["bin_start_ns"])
        values.append(r["mean_value"])
    return out


def _quality_rows(quality: dict[str, dict]) -> list[dict]:
    """Trace.quality() as rows a template can print: the table, the problem in words, how many, why it matters."""
    rows = []
    for key, q in quality.items():
        table, _, problem = key.partition(".")
        rows.append(
            {
                "table": table,
                "problem": problem.replace("_", " "),
                "count": int(q["count"]),
                "description": q.get("description") or "",
            }
        )
    return sorted(rows, key=lambda r: (-r["count"], r["table"], r["problem"]))


def _split_constant_columns(table: "pa.Table") -> tuple["pa.Table", list[tuple[str, Any]]]:
    """Move text columns that hold one value in every row (a rule's advice, an architecture note) out of the
    evidence table: said once above it, they stop every row from wrapping into a paragraph. Columns that are
    only fragments of the summary sentence (render/tables.is_fragment) are left out: the summary says them."""
    import pyarrow as pa
    import pyarrow.compute as pc

    fragments = [
        n
        for n in table.column_names
        if pa.types.is_string(table.column(n).type) and is_fragment(table.column(n).to_pylist())
    ]
    if fragments and len(fragments) < table.num_columns:
        table = table.drop_columns(fragments)
    if table.num_rows < 2:
        return table, []

    constants = []
    for name in table.column_names:
        col = table.column(name)
        if pa.types.is_string(col.type) and col.null_count == 0 and pc.count_distinct(col).as_py() == 1:
            constants.append((name, col[0].as_py()))
    if not constants or len(constants) == table.num_columns:
        return table, []
    return table.drop_columns([n for n, _ in constants]), constants


def _table_rows(table: "pa.Table", limit: int) -> tuple[list[str], list[list[Any]], int]:
    """(columns, first `limit` rows, total rows) of an Arrow table."""
    rows = [list(r.values()) for r in table.slice(0, limit).to_pylist()]
    return list(table.column_names), rows, table.num_rows


def _add_analysis(data: ReportData, analysis: "Analysis", evidence_rows: int) -> None:
    data.headline = analysis.headline
    if analysis.serving is not None:
        from .serving_text import lines

        data.serving_lines = lines(analysis.serving)
    labels = dict(KEY_METRICS)
    for m in analysis.metrics:
        data.metrics.append(
            Metric(
                id=m.qualified_id,
                label=labels.get(m.id, m.id),
                value=m.value,
                unit=m.unit,
                polarity=m.polarity,
                scope=m.scope,
                description=m.description,
            )
        )
    for key, label in KEY_METRICS:
        m = analysis.metric(key)
        if m is not None and m.value is not None and not (key == "comm_exposed_ns" and not m.value):
            data.key_metrics.append(
                Metric(
                    id=m.id,
                    label=label,
                    value=m.value,
                    unit=m.unit,
                    polarity=m.polarity,
                    scope=m.scope,
                    description=m.description,
                )
            )
    findings = sorted(analysis.findings, key=lambda f: -f.impact_ns)  # already ranked; keep it so regardless
    for rank, f in enumerate(findings, 1):
        evidence, constants = _split_constant_columns(f.evidence)
        columns, rows, total = _table_rows(evidence, evidence_rows)
        where = " · ".join(
            part
            for part in (
                f"GPU {f.device_id}" if f.device_id is not None else "",
                f"pid {f.pid}" if f.pid is not None else "",
                f"tid {f.tid}" if f.tid is not None else "",
            )
            if part
        )
        data.findings.append(
            Finding(
                rank=rank,
                rule_id=f.rule_id,
                title=f.title,
                severity=f.severity,
                impact_ns=int(f.impact_ns),
                summary=f.summary,
                recommendation=f.recommendation,
                why=f.why,
                where=where,
                columns=columns,
                rows=rows,
                total_rows=max(total, f.evidence_total or 0),
                windows=len(f.windows),
                constants=constants,
            )
        )
    _add_steps(data, analysis.steps)


def _add_steps(data: ReportData, steps: "pa.Table") -> None:
    columns, rows, total = _table_rows(steps, 1_000_000)
    if not rows or "start_ns" not in columns or "end_ns" not in columns:
        return
    idx = {c: i for i, c in enumerate(columns)}
    for r in rows:
        start, end = r[idx["start_ns"]], r[idx["end_ns"]]
        if start is None or end is None:
            continue
        step = {"start_ns": int(start), "end_ns": int(end), "dur_ns": int(end) - int(start)}
        for extra in ("phase", "name", "pid"):
            if extra in idx:
                step[extra] = r[idx[extra]]
        data.steps.append(step)
    durations = sorted(s["dur_ns"] for s in data.steps)
    if durations:
        data.step_stats = {
            "count": len(durations),
            "p50_ns": _quantile(durations, 0.5),
            "p90_ns": _quantile(durations, 0.9),
            "p99_ns": _quantile(durations, 0.99),
            "min_ns": durations[0],
            "max_ns": durations[-1],
            "mean_ns": sum(durations) / len(durations),
        }
    data.phases = _phases(data.steps)


def _quantile(sorted_values: list[int], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default, DuckDB's quantile_cont)."""
    pos = (len(sorted_values) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def _phases(steps: list[dict]) -> list[dict]:
    """Contiguous runs of steps with the same phase label (prefill, decode, ...)."""
    out: list[dict] = []
    for s in sorted(steps, key=lambda s: s["start_ns"]):
        phase = s.get("phase")
        if not phase:
            continue
        if out and out[-1]["phase"] == phase:
            out[-1]["end_ns"] = max(out[-1]["end_ns"], s["end_ns"])
            out[-1]["steps"] += 1
        else:
            out.append({"phase": phase, "start_ns": s["start_ns"], "end_ns": s["end_ns"], "steps": 1})
    return out
