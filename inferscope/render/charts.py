"""Report charts: matplotlib figures rendered to inline SVG strings.

Inputs are already-aggregated rows (bins, top-N groups, step durations) from sql/report/, so a chart's size does
not grow with the trace. Text stays text in the SVG (`svg.fonttype: none`) so the page's font applies and labels
remain selectable; matplotlib escapes it for XML. Labels never go through mathtext (`text.parse_math: False`):
a kernel name with `$` in it must print as written. matplotlib is a core dependency: every HTML report opens
with the utilisation timeline, so a missing matplotlib is a broken install and `require()` says so plainly.
"""

from __future__ import annotations

import io
import re
from typing import Sequence

COMPUTE = "#3b6fb6"
COPY = "#e8833a"
OVERLAP = "#8a63b8"
IDLE = "#d9dde3"
STEP = "#2f9e77"
REQUEST = "#c0577a"
INK = "#2b2f36"
MUTED = "#6b7280"

_RC = {
    "svg.fonttype": "none",
    "svg.hashsalt": "inferscope",
    "text.parse_math": False,
    "font.family": "sans-serif",
    "font.size": 9,
    "axes.edgecolor": "#c7ccd4",
    "axes.labelcolor": MUTED,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "axes.titlecolor": INK,
    "axes.titlelocation": "left",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "xtick.color": MUTED,
    "ytick.color": MUTED,
    "legend.frameon": False,
    "figure.dpi": 96,
}


def require():
    """matplotlib, or an InferScopeError naming the fix (it is a dependency, so only a broken install lacks it)."""
    try:
        import matplotlib
    except ImportError as exc:
        from ..errors import InferScopeError

        raise InferScopeError(
            "report charts need matplotlib, an InferScope dependency that is missing from this "
            "environment: reinstall InferScope (pip install --force-reinstall inferscope) or run "
            "pip install matplotlib"
        ) from exc
    return matplotlib


def _figure(width: float, height: float):
    matplotlib = require()

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _svg(fig, label: str) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None}, transparent=True)
    svg = buf.getvalue()
    svg = svg[svg.index("<svg") :]
    svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg, flags=re.S)
    # Geometry to 0.1 px (the figure is ~700 units wide) and path commands on one line: a third of the bytes.
    svg = re.sub(r'\b(d|x|y|width|height)="([^"]*)"', lambda m: f'{m.group(1)}="{_round_numbers(m.group(2))}"', svg)
    # Scale with the page: keep the viewBox, let CSS size it.
    svg = re.sub(
        r'(<svg[^>]*?) width="[^"]*" height="[^"]*"',
        rf'\1 role="img" aria-label="{label}" preserveAspectRatio="xMinYMin meet"',
        svg,
        count=1,
    )
    return svg


def _round_numbers(text: str) -> str:
    text = re.sub(
        r"(-?\d+)\.(\d)\d*", lambda m: m.group(1) if m.group(2) == "0" else f"{m.group(1)}.{m.group(2)}", text
    )
    return re.sub(r"\s*\n\s*", " ", text).strip()


def _short(label: str, limit: int) -> str:
    label = " ".join(str(label).split())
    return label if len(label) <= limit else label[: limit - 1] + "…"


def _ms_axis(ax, span_ms: float) -> None:
    ax.set_xlim(0, span_ms)
    ax.set_xlabel("ms since first GPU activity")


# the GPU hardware counters drawn under a device's utilisation row: (label, metric ids summed, colour)
COUNTERS = (
    ("SMs Active", ("sm_active_pct",), COMPUTE),
    ("Tensor Active", ("tensor_active_pct",), "#16a34a"),
    ("DRAM read + write", ("dram_read_bw_pct", "dram_write_bw_pct"), OVERLAP),
    ("PCIe RX", ("pcie_rx_bw_pct",), COPY),
    ("PCIe TX", ("pcie_tx_bw_pct",), "#b45309"),
)


def timeline(
    bins: dict[int, dict[str, Sequence[float]]],
    span_ns: int,
    steps: Sequence[tuple[int, int]] = (),
    phases: Sequence[tuple[str, int, int]] = (),
    t0_ns: int = 0,
    counters: dict[int, dict] | None = None,
) -> str:
    """Per-device utilisation over time: compute and copy busy share per bin, idle as the gap to 100 %,
    steps as alternating bands and phases (prefill/decode) as a labelled strip on top. Where a device has GPU
    hardware metrics, a row of its counters (SMs Active, Tensor Active, DRAM, PCIe, % of peak) sits right under its
    utilisation row on the same x axis, so "busy" and "working" read off one vertical line.

    `bins[device] = {"t_ns": [...bin starts...], "w_ns": width, "compute": [...ns...], "copy": [...], "busy": [...]}`.
    `counters[device] = {"t_ns": [...], "w_ns": width, metric_id: [...mean % per bin, None where unsampled...]}`.
    """
    import matplotlib.pyplot  # noqa: F401  (registers the Agg canvas)
    import numpy as np

    from matplotlib import rc_context

    devices = sorted(bins)
    counters = counters or {}
    rows = [(dev, kind) for dev in devices for kind in ("busy", "counters") if kind == "busy" or dev in counters]
    with rc_context(_RC):
        fig = _figure(9.6, 0.35 + 1.25 * len(rows))
        all_axes = fig.subplots(len(rows), 1, sharex=True, squeeze=False)[:, 0]
        axes = [ax for ax, (_, kind) in zip(all_axes, rows) if kind == "busy"]
        span_ms = span_ns / 1e6
        for ax, (dev, kind) in zip(all_axes, rows):
            ax.patch.set_gid(f"timeline-{kind}-gpu{dev}")  # the plot area, for the browser test of alignment
            if kind == "counters":
                _counter_row(ax, dev, counters[dev], t0_ns)
        for ax, dev in zip(axes, devices):
            b = bins[dev]
            w = float(b["w_ns"])
            x = (np.asarray(b["t_ns"], dtype=float) - t0_ns) / 1e6
            x = np.append(x, x[-1] + w / 1e6) if len(x) else x

            def pct(key, b=b, w=w):
                v = np.asarray(b[key], dtype=float) * 100.0 / w
                return np.append(v, v[-1]) if len(v) else v

            for k, (s, e) in enumerate(steps):
                if k % 2 == 0:
                    ax.axvspan((s - t0_ns) / 1e6, (e - t0_ns) / 1e6, color=STEP, alpha=0.08, lw=0)
            ax.fill_between(x, pct("busy"), 100, step="post", color=IDLE, alpha=0.7, lw=0, label="idle")
            ax.fill_between(x, 0, pct("compute"), step="post", color=COMPUTE, alpha=0.85, lw=0, label="compute")
            ax.step(x, pct("copy"), where="post", color=COPY, lw=1.2, label="copy")
            ax.step(x, pct("busy"), where="post", color=INK, lw=0.6, alpha=0.55, label="any GPU work")
            ax.set_ylim(0, 105)
            ax.set_yticks([0, 50, 100], ["0", "50", "100 %"])
            ax.set_ylabel(f"GPU {dev}", rotation=0, ha="right", va="center", color=INK, fontweight="bold")
            ax.grid(axis="y", color="#eceff3", lw=0.6)
            for name, s, e in phases:
                ax.axvspan(
                    (s - t0_ns) / 1e6, (e - t0_ns) / 1e6, ymin=0.93, ymax=1.0, color=_phase_color(name), lw=0, alpha=0.9
                )
        _ms_axis(all_axes[-1], span_ms)
        handles, labels = axes[0].get_legend_handles_labels()
        from matplotlib.patches import Patch

        if steps:
            handles.append(Patch(color=STEP, alpha=0.25, lw=0))
            labels.append("steps (alternate bands)")
        for name in dict.fromkeys(str(p[0]) for p in phases):
            handles.append(Patch(color=_phase_color(name), lw=0))
            labels.append(f"{name} phase")
        fig.legend(handles, labels, loc="outside upper right", ncols=len(labels), fontsize=8)
        return _svg(fig, "GPU utilisation over time per device")


def _counter_row(ax, dev: int, series: dict, t0_ns: int) -> None:
    """One device's hardware counters per bin (time-weighted means, % of peak), drawn as steps like the
    utilisation row above it; bins without samples are gaps, not zeros."""
    import numpy as np

    w = float(series["w_ns"])
    x = (np.asarray(series["t_ns"], dtype=float) - t0_ns) / 1e6
    x = np.append(x, x[-1] + w / 1e6) if len(x) else x
    for label, ids, color in COUNTERS:
        parts = [series[i] for i in ids if i in series]
        if not parts:
            continue
        v = np.array(
            [np.nan if any(p[k] is None for p in parts) else sum(p[k] for p in parts) for k in range(len(x) - 1)]
        )
        ax.step(x, np.append(v, v[-1]) if len(v) else v, where="post", color=color, lw=1.0, label=label)
    ax.set_ylim(0, 105)
    ax.set_yticks([0, 50, 100], ["0", "50", "100 %"])
    ax.set_ylabel(f"GPU {dev}\ncounters", rotation=0, ha="right", va="center", color=INK, fontweight="bold")
    ax.grid(axis="y", color="#eceff3", lw=0.6)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7, handlelength=1.2)


def _phase_color(name: str) -> str:
    return {"prefill": "#c2410c", "decode": "#0f766e"}.get(str(name).lower(), "#64748b")


def top_kernels(names: Sequence[str], total_ms: Sequence[float], pct: Sequence[float]) -> str:
    """Horizontal bars: the kernels with the most GPU time, largest on top, labelled with their share."""
    from matplotlib import rc_context

    with rc_context(_RC):
        fig = _figure(9.6, 0.5 + 0.3 * max(len(names), 1))
        ax = fig.subplots()
        y = list(range(len(names)))[::-1]
        ax.barh(y, total_ms, color=COMPUTE, height=0.62)
        ax.set_yticks(y, [_short(n, 64) for n in names], fontsize=8)
        ax.tick_params(axis="y", length=0)
        for yi, v, p in zip(y, total_ms, pct):
            ax.text(v, yi, f"  {v:,.2f} ms · {p:.1f} %", va="center", fontsize=8, color=MUTED)
        ax.set_xlabel("total GPU time, ms")
        ax.set_xlim(0, max(total_ms or [1]) * 1.28)
        ax.grid(axis="x", color="#eceff3", lw=0.6)
        ax.set_axisbelow(True)
        return _svg(fig, "Kernels with the most GPU time")


def breakdown(devices: Sequence[int], parts: dict[str, Sequence[float]]) -> str:
    """One stacked 100 % bar per device: compute only, compute + copy overlapped, copy only, idle."""
    from matplotlib import rc_context

    colors = {"compute only": COMPUTE, "compute + copy": OVERLAP, "copy only": COPY, "idle": IDLE}
    with rc_context(_RC):
        fig = _figure(9.6, 0.75 + 0.38 * len(devices))
        ax = fig.subplots()
        y = list(range(len(devices)))[::-1]
        left = [0.0] * len(devices)
        for label, values in parts.items():
            ax.barh(y, values, left=left, color=colors[label], height=0.6, label=label)
            for yi, lft, v in zip(y, left, values):
                if v >= 6:
                    ax.text(
                        lft + v / 2,
                        yi,
                        f"{v:.0f} %",
                        ha="center",
                        va="center",
                        fontsize=8,
                        color="white" if label != "idle" else INK,
                    )
            left = [a + b for a, b in zip(left, values)]
        ax.set_yticks(y, [f"GPU {d}" for d in devices])
        ax.tick_params(axis="y", length=0)
        ax.set_xlim(0, 100)
        ax.set_xlabel("share of the GPU window, %")
        fig.legend(loc="outside upper right", ncols=4, fontsize=8)
        return _svg(fig, "Share of the GPU window per device: compute, copy, overlap, idle")


def step_histogram(dur_ms: Sequence[float], p50: float, p90: float, p99: float) -> str:
    """Distribution of step wall times with the p50/p90/p99 marked: a long tail reads as jitter or stalls.
    A tail beyond 8x the median switches to a log time axis so the bulk of the steps stays readable."""
    return _histogram(dur_ms, p50, p90, p99, "step wall time, ms", "steps", "Distribution of step wall times", STEP)


def latency_histogram(values_ms: Sequence[float], p50: float, p90: float, p99: float, what: str, unit: str) -> str:
    """Distribution of a request latency (TTFT per request, or every gap between streamed tokens) with the load
    generator's own p50/p90/p99 marked, so the chart and the summary numbers agree by construction."""
    return _histogram(values_ms, p50, p90, p99, f"{what}, ms", unit, f"Distribution of {what}", REQUEST)


def _histogram(values_ms, p50: float, p90: float, p99: float, xlabel: str, ylabel: str, label: str, color: str):
    import numpy as np
    from matplotlib import rc_context

    values = np.asarray(values_ms, dtype=float)
    with rc_context(_RC):
        fig = _figure(9.6, 2.4)
        ax = fig.subplots()
        n_bins = min(40, max(5, len(values) // 2))
        positive = values[values > 0]
        log = len(positive) == len(values) and p50 > 0 and values.max() > 8 * p50
        bins = np.geomspace(positive.min(), positive.max() * 1.001, n_bins + 1) if log else n_bins
        ax.hist(values, bins=bins, color=color, alpha=0.85, edgecolor="white", lw=0.5)
        if log:
            from matplotlib.ticker import FuncFormatter, NullFormatter

            ax.set_xscale("log")
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))  # no mathtext: plain numbers
            ax.xaxis.set_minor_formatter(NullFormatter())
        for value, name, style in ((p50, "p50", "-"), (p90, "p90", "--"), (p99, "p99", ":")):
            ax.axvline(value, color=INK, lw=1, ls=style, label=f"{name} {value:,.2f} ms")
        ax.legend(loc="upper right", fontsize=8)
        ax.set_xlabel(xlabel + (" (log scale)" if log else ""))
        ax.set_ylabel(ylabel)
        from matplotlib.ticker import MaxNLocator

        ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # a count has no fractional ticks
        ax.grid(axis="y", color="#eceff3", lw=0.6)
        ax.set_axisbelow(True)
        return _svg(fig, label)
