"""The terminal summary of an analysis: headline first, then key metrics, then findings by impact."""

from __future__ import annotations

import io

from typing import TYPE_CHECKING

from ..errors import visible
from ..units import fmt_ns, fmt_value

if TYPE_CHECKING:
    from ..analyze.result import Analysis

_SEVERITY_STYLE = {"high": "bold red", "medium": "yellow", "low": "cyan", "info": "dim"}

# (metric id, label) shown in the key-metrics table when the trace has a value for them.
KEY_METRICS = (
    ("gpu_span_ns", "GPU active span"),
    ("gpu_busy_pct", "GPU busy (union, all devices)"),
    ("compute_busy_pct", "  kernels"),
    ("copy_busy_pct", "  copies"),
    ("gpu_idle_ns", "GPU idle inside the span"),
    ("idle_sync_ns", "  after synchronisation"),
    ("idle_launch_ns", "  launch-bound"),
    ("idle_host_ns", "  host-bound"),
    ("idle_copy_ns", "  copy-bound"),
    ("idle_load_ns", "  library load / JIT"),
    ("idle_profiler_ns", "  profiler overhead"),
    ("idle_dependency_ns", "  waiting on another stream"),
    ("idle_queued_ns", "  queued, no recorded wait"),
    ("idle_unknown_ns", "  unknown"),
    ("kernel_count", "Kernels"),
    ("kernel_dur_p50_ns", "Median kernel"),
    ("short_kernel_pct", "Kernels shorter than their launch"),
    ("graph_kernel_time_pct", "Kernel time replayed from CUDA graphs"),
    ("graph_capture_ns", "CUDA-graph capture (host set-up)"),
    ("h2d_rate", "H2D bandwidth (copies of 1 MiB+)"),
    ("sync_exposed_idle_ns", "GPU idle exposed by host waits"),
    ("comm_exposed_ns", "Exposed communication time"),
    ("step_count", "Steps"),
    ("step_time_p50_ns", "Step time p50"),
    ("step_time_p90_ns", "Step time p90"),
    ("step_time_p99_ns", "Step time p99"),
    ("step_gpu_busy_pct_p50", "GPU busy per step (p50)"),
)


_HIDE_ZERO = {mid for mid, _ in KEY_METRICS if mid.startswith("idle_")} | {
    "comm_exposed_ns",
    "step_count",
    "graph_kernel_time_pct",
    "graph_capture_ns",
}


TOP_KERNELS = 8


def _active_gpus(a: "Analysis") -> int:
    """GPUs that ran an operation (gpu_device_summary also lists described GPUs that ran nothing)."""
    rows = a.devices.to_pylist() if a.devices.num_rows else []
    return sum(
        1 for r in rows if (r.get("kernel_count") or 0) + (r.get("memcpy_count") or 0) + (r.get("memset_count") or 0)
    )


def _top_kernels(console, trace, n: int = TOP_KERNELS) -> None:
    """The kernels with the most summed time (sql/report/report_top_kernels.sql, as in the Markdown/HTML report),
    so that the terminal answers "which kernels?" too. Needs the open trace: an Analysis carries no kernel rows."""
    from rich.table import Table
    from rich.text import Text

    from ..resources import sql_dir

    trace.engine.load_sql_dir(sql_dir() / "report")
    trace.engine.con.execute(f"SET VARIABLE report_top_n = {int(n)}")
    rows = trace.engine.con.execute(
        "SELECT t.name, t.instances, t.total_ns, t.avg_ns, t.time_pct, t.devices, "
        "t.example_name IN (SELECT name FROM comm_kernels) AS comm FROM report_top_kernels t"
    ).fetchall()
    if not rows:
        return
    table = Table(
        title="Top kernels (by summed time; share of all kernel time on all devices)",
        title_justify="left",
        box=None,
        padding=(0, 2),
    )
    for header, justify in (
        ("kernel", "left"),
        ("launches", "right"),
        ("total", "right"),
        ("mean", "right"),
        ("share", "right"),
        ("GPUs", "right"),
    ):
        table.add_column(
            header, justify=justify, overflow="ellipsis", no_wrap=True, max_width=52 if header == "kernel" else None
        )
    for name, count, total, avg, pct, devices, comm in rows:
        label = ("[comm] " if comm else "") + visible(str(name))
        table.add_row(
            Text(label),
            Text(f"{count:,}"),
            Text(fmt_ns(total)),
            Text(fmt_ns(avg)),
            Text(f"{pct:.1f}%"),
            Text(str(devices)),
        )
    console.print()
    console.print(table)


def render(a: "Analysis", color: bool = False, width: int | None = None, trace=None) -> str:
    """The summary; with the open `trace` the header facts include its metadata (driver, CUDA, host).

    Names in it (kernels, ranges, the trace's path, phases) come from the profiled program: every string goes in
    as a rich Text, never as markup, and through visible(), so `[/x]` is not a style tag and an ESC or BEL in a
    name is printed as `\\x1b` instead of reaching the terminal."""
    from rich.console import Console
    from rich.padding import Padding
    from rich.table import Table
    from rich.text import Text

    buf = io.StringIO()
    console = Console(
        file=buf, force_terminal=color, color_system="standard" if color else None, width=width or 110, highlight=False
    )
    console.print(Text(visible(a.headline), style="bold"))
    console.print(Text(visible(f"{a.trace_path} ({a.source_format})"), style="dim"))
    from . import facts

    line = Text()
    for i, fact in enumerate(facts.from_trace(trace) if trace is not None else facts.from_analysis(a)):
        line.append(" · " if i else "", style="dim")
        line.append(f"{fact.label}: ", style="bold")
        line.append(visible(fact.text), style="dim italic" if fact.value is None else "")
    console.print(line)
    console.print()

    # Trace-scope metrics add up or merge every GPU; findings name theirs ("GPU 0"): the title says which
    active = _active_gpus(a)
    title = f"Key metrics (all {active} active GPUs together)" if active > 1 else "Key metrics"
    table = Table(title=title, title_justify="left", show_header=False, box=None, padding=(0, 2))
    table.add_column("metric")
    table.add_column("value", justify="right")
    for mid, label in KEY_METRICS:
        m = a.metric(mid)
        if m is None or m.value is None or (mid in _HIDE_ZERO and not m.value):
            continue
        table.add_row(Text(label), Text(visible(fmt_value(m.value, m.unit))))
    console.print(table)
    if trace is not None:
        _top_kernels(console, trace)
    if getattr(a, "window", None):
        console.print(Text(visible(f"Window analysed: {a.window['text']}"), style="dim"))
    if a.step_source:
        console.print(Text(visible(f"Steps: {a.step_source}"), style="dim"))
    for phase in sorted({m.key for m in a.metrics if m.scope == "phase" and m.key}):
        n = a.value("phase_step_count", key=phase)
        p50 = a.value("phase_step_time_p50_ns", key=phase)
        p99 = a.value("phase_step_time_p99_ns", key=phase)
        console.print(Text(visible(f"  {phase}: {int(n or 0)} steps, p50 {fmt_ns(p50)}, p99 {fmt_ns(p99)}")))
    console.print()
    if a.serving is not None:  # a request file was joined to the trace
        from .serving_text import lines

        console.print(Text("Serving", style="bold"))
        for text in lines(a.serving):
            console.print(Text(visible(text)))
        console.print()

    if not a.findings:
        console.print("No findings: no rule fired on this trace.")
    else:
        console.print(Text(f"Findings ({len(a.findings)}, by GPU time at stake)", style="bold"))
        for i, f in enumerate(a.findings, 1):
            head = Text(f"{i:>2}. ")
            head.append(f"[{f.severity}]", style=_SEVERITY_STYLE.get(f.severity, ""))
            head.append(f" {visible(f.title)}", style="bold")
            head.append(visible(f"  {fmt_ns(f.impact_ns)}  ({f.rule_id})"), style="dim")
            console.print(head)
            console.print(Padding(Text(visible(f.summary, keep_newlines=True)), (0, 0, 0, 4)))
            console.print(
                Padding(
                    Text("→ " + visible(f.recommendation, keep_newlines=True), style="green" if color else ""),
                    (0, 0, 0, 4),
                )
            )
    for err in a.rule_errors:
        console.print(Text(visible(f"warning: {err}", keep_newlines=True), style="yellow"))
    if a.data_quality:  # every figure above excludes these rows
        total = sum(q["count"] for q in a.data_quality.values())
        console.print(Text(f"\nData quality: {total:,} rows with impossible values were left out", style="bold"))
        for key, q in sorted(a.data_quality.items(), key=lambda kv: (-kv[1]["count"], kv[0])):
            table, _, problem = key.partition(".")
            line = f"  {table}: {q['count']:,} {problem.replace('_', ' ')}" + (
                f" ({q['description']})" if q.get("description") else ""
            )
            console.print(Text(visible(line)))
    return buf.getvalue()
