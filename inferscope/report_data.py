"""What a report shows, as plain data: the trace's identity, GPU time per device, top kernels and ranges, the
timeline bins for the charts, and the analysis (verdict, metrics, ranked findings, steps).

Everything here is aggregated in DuckDB (sql/report/), so the report's size depends on the number of devices,
bins and findings, never on the number of events. Rendering (report.py) only formats what is built here.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from . import __version__
from .resources import sql_dir

if TYPE_CHECKING:
    from .trace import Trace

N_BINS = 240
TOP_N = 10
EVIDENCE_ROWS = 12
BUSY_VIEW = "report_gpu_islands"


@dataclass
class Finding:
    rank: int
    rule_id: str
    title: str
    severity: str
    impact_ns: int
    summary: str
    recommendation: str
    columns: list[str]
    rows: list[list[Any]]
    total_rows: int
    device_id: Any = None
    windows: int = 0


@dataclass
class Metric:
    id: str
    title: str
    value: Any
    unit: str
    polarity: str
    scope: str
    description: str = ""


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
    metrics: list[Metric] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    steps: list[dict] = field(default_factory=list)
    step_stats: dict | None = None
    phases: list[dict] = field(default_factory=list)
    generated_utc: str = ""
    version: str = __version__

    @property
    def has_gpu(self) -> bool:
        return self.window is not None

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
    # as the analysis engine does for its shared views) unless an earlier step already did.
    if not con.execute("SELECT count(*) FROM duckdb_tables() WHERE temporary AND table_name = ?",
                       [BUSY_VIEW]).fetchall()[0][0]:
        con.execute(f"CREATE TEMP TABLE {BUSY_VIEW} AS SELECT * FROM main.{BUSY_VIEW}")


def _rows(trace: "Trace", sql: str) -> list[dict]:
    return trace.engine.query(sql).to_pylist()


def build(trace: "Trace", analysis: Any = None, *, n_bins: int = N_BINS, top_n: int = TOP_N,
          evidence_rows: int = EVIDENCE_ROWS) -> ReportData:
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
        bins=bins,
        generated_utc=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    )
    if analysis is not None:
        _add_analysis(data, analysis, evidence_rows)
    return data


def _get(obj: Any, *names: str, default: Any = None) -> Any:
    for n in names:
        value = obj.get(n) if isinstance(obj, dict) else getattr(obj, n, None)
        if value is not None:
            return value
    return default


def _table_rows(table: Any, limit: int) -> tuple[list[str], list[list[Any]], int]:
    """(columns, first `limit` rows, total rows) of an evidence table (Arrow, pandas or a list of dicts)."""
    if table is None:
        return [], [], 0
    if hasattr(table, "num_rows") and hasattr(table, "slice"):
        return list(table.column_names), [list(r.values()) for r in table.slice(0, limit).to_pylist()], table.num_rows
    if hasattr(table, "to_dict") and hasattr(table, "columns"):
        rows = table.head(limit).to_dict("records")
        return [str(c) for c in table.columns], [list(r.values()) for r in rows], len(table)
    rows = list(table)
    columns = list(rows[0].keys()) if rows else []
    return columns, [[r.get(c) for c in columns] for r in rows[:limit]], len(rows)


def _add_analysis(data: ReportData, analysis: Any, evidence_rows: int) -> None:
    data.headline = _get(analysis, "headline")
    for m in _get(analysis, "metrics", default=[]) or []:
        data.metrics.append(Metric(
            id=str(_get(m, "id", "metric_id", default="")), title=str(_get(m, "title", "name", "id", default="")),
            value=_get(m, "value"), unit=str(_get(m, "unit", default="")),
            polarity=str(_get(m, "polarity", default="")), scope=str(_get(m, "scope", default="trace")),
            description=str(_get(m, "description", "doc", default=""))))
    findings = list(_get(analysis, "findings", default=[]) or [])
    findings.sort(key=lambda f: -(_get(f, "impact_ns", default=0) or 0))
    for rank, f in enumerate(findings, 1):
        columns, rows, total = _table_rows(_get(f, "evidence"), evidence_rows)
        windows = _get(f, "windows", default=[])
        data.findings.append(Finding(
            rank=rank, rule_id=str(_get(f, "rule_id", "rule", "id", default="")),
            title=str(_get(f, "title", default=_get(f, "rule_id", default="finding"))),
            severity=str(_get(f, "severity", default="info")), impact_ns=int(_get(f, "impact_ns", default=0) or 0),
            summary=str(_get(f, "summary", default="")), recommendation=str(_get(f, "recommendation", default="")),
            columns=columns, rows=rows, total_rows=total, device_id=_get(f, "device_id"),
            windows=len(windows) if hasattr(windows, "__len__") else 0))
    _add_steps(data, _get(analysis, "steps"))


def _add_steps(data: ReportData, steps: Any) -> None:
    if steps is None:
        return
    columns, rows, total = _table_rows(steps, 1_000_000)
    if not rows or "start_ns" not in columns or "end_ns" not in columns:
        return
    idx = {c: i for i, c in enumerate(columns)}
    for r in rows:
        start, end = r[idx["start_ns"]], r[idx["end_ns"]]
        if start is None or end is None:
            continue
        step = {"start_ns": int(start), "end_ns": int(end), "dur_ns": int(end) - int(start)}
        for extra in ("phase", "name", "step", "device_id"):
            if extra in idx:
                step[extra] = r[idx[extra]]
        data.steps.append(step)
    durations = sorted(s["dur_ns"] for s in data.steps)
    if durations:
        data.step_stats = {"count": len(durations), "p50_ns": _quantile(durations, 0.5),
                           "p90_ns": _quantile(durations, 0.9), "p99_ns": _quantile(durations, 0.99),
                           "min_ns": durations[0], "max_ns": durations[-1],
                           "mean_ns": sum(durations) / len(durations)}
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
