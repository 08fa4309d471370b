"""Evidence tables laid out the way Nsight Systems' own tables read: one unit per column, named in the header
("Duration (ms)"), numbers right-aligned with thousands separators, and readable column names.

A rule's evidence is whatever its SELECT returned, so the layout is derived from the column names the data model
uses everywhere (`*_ns` durations, `start_ns`/`*_end_ns` timestamps, `*bytes`, `*_pct`, `rate`, `*_id`). Picking
one unit per column (from the column's largest value) instead of one per cell is what lets a reader compare a
column top to bottom at a glance, as in the nsys stats reports. The HTML and Markdown reports both use this, so
the two formats show the same table.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Sequence

_TIMESTAMP = re.compile(r"(^|_)(start|end|ts)_ns$")
_ID = re.compile(r"(^|_)(pid|tid|id)$")
_RATE = re.compile(r"(^|_)(rate|bps|bytes_per_s)$")
_SEPARATOR = re.compile(r"^[\s,;:·]+")

# Labels for evidence columns the built-in rules return; other names are turned into words by `label()`.
LABELS = {
    "device_id": "GPU",
    "pid": "PID",
    "tid": "TID",
    "impact_ns": "Impact",
    "start_ns": "Start",
    "end_ns": "End",
    "dur_ns": "Duration",
    "ts_ns": "Time",
    "api_name": "API call",
    "api_dur_ns": "API call duration",
    "next_api_name": "Next API call",
    "next_op_kind": "Next GPU op kind",
    "next_op_name": "Next GPU op",
    "name": "Name",
    "short_name": "Kernel",
    "kernel": "Kernel",
    "stream_id": "Stream",
    "context_id": "Context",
    "copy_kind_name": "Copy kind",
    "src_kind": "Source memory",
    "dst_kind": "Destination memory",
    "bytes": "Size",
    "rate": "Throughput",
    "count": "Count",
    "kernels": "Kernels",
    "kernel_count": "Kernels",
    "launch_count": "Launches",
    "short_kernels": "Short kernels",
    "sm_count": "SMs",
    "blocks": "Blocks",
    "host_outside_api_ns": "Host time outside CUDA API",
    "gpu_busy_pct": "GPU busy",
    "in_use_pct": "In use",
    "median_busy_pct": "Median GPU busy",
    "gemm_share": "GEMM share",
    "step_id": "Step",
    "step_index": "Step #",
    "step_count": "Steps",
    "sync_kind": "Sync kind",
    "sync_ns": "Sync time",
    "wait_ns": "Wait",
    "exposed_ns": "Exposed",
    "span_ns": "Span",
    "gap_id": "Gap",
    "pageable": "Pageable copies",
    "compute_capability": "Compute capability",
    "outer_context": "Outer context",
}
_WORDS = {
    "gpu": "GPU",
    "cpu": "CPU",
    "sm": "SM",
    "api": "API",
    "nccl": "NCCL",
    "h2d": "H2D",
    "d2h": "D2H",
    "d2d": "D2D",
    "p50": "p50",
    "p90": "p90",
    "p99": "p99",
    "id": "ID",
    "pid": "PID",
    "tid": "TID",
    "nvtx": "NVTX",
    "cuda": "CUDA",
    "avg": "Avg",
    "os": "OS",
}


def label(column: str) -> str:
    """A header without the unit suffix (the unit goes in brackets): `avg_launch_ns` -> `Avg launch`."""
    if column in LABELS:
        return LABELS[column]
    words = re.sub(r"_(ns|pct|bytes)$", "", column).split("_") or [column]
    out = [_WORDS.get(w.lower(), w) for w in words if w]
    if not out:
        return column
    return out[0][:1].upper() + out[0][1:] + "".join(" " + w for w in out[1:])


@dataclass
class Column:
    name: str
    header: str
    numeric: bool
    cells: list[str]


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and not (isinstance(v, float) and math.isnan(v))


def _scale(values: Sequence[float], units: Sequence[tuple[str, float]]) -> tuple[str, float]:
    """The largest unit that the column's biggest magnitude reaches (the last unit is the fallback)."""
    top = max((abs(v) for v in values), default=0)
    for unit, scale in units:
        if top >= scale:
            return unit, scale
    return units[-1]


def _decimals(values: Sequence[float]) -> int:
    """Enough decimals that the column's largest value keeps three significant digits, at most three."""
    top = max((abs(v) for v in values), default=0)
    return 0 if top >= 100 else 1 if top >= 10 else 2 if top >= 1 else 3


_TIME_UNITS = (("s", 1e9), ("ms", 1e6), ("µs", 1e3), ("ns", 1.0))
_BYTE_UNITS = (("GB", 1e9), ("MB", 1e6), ("kB", 1e3), ("B", 1.0))
_RATE_UNITS = (("GB/s", 1e9), ("MB/s", 1e6), ("kB/s", 1e3), ("B/s", 1.0))


def column(name: str, values: Sequence[Any], t0_ns: int = 0) -> Column:
    """One evidence column: its header (label plus unit) and its cells, all in the same unit."""
    nums = [float(v) for v in values if _number(v)]
    text_values = [v for v in values if v is not None and not _number(v)]
    numeric = bool(nums) and not text_values
    head = label(name)
    if not numeric:
        return Column(name, head, False, [text_cell(v) for v in values])
    if _ID.search(name):
        return Column(name, head, True, ["" if not _number(v) else str(int(v)) for v in values])
    if _TIMESTAMP.search(name):
        nums = [(n - t0_ns) / 1e6 for n in nums]
        cells = [_fmt((v - t0_ns) / 1e6, 3) if _number(v) else "" for v in values]
        return Column(name, f"{head} (ms)", True, cells)
    if name.endswith("_ns"):
        unit, scale = _scale(nums, _TIME_UNITS)
        return _scaled(name, f"{head} ({unit})", values, scale, 0 if unit == "ns" else None)
    if name.endswith("bytes") or name == "bytes":
        unit, scale = _scale(nums, _BYTE_UNITS)
        return _scaled(name, f"{head} ({unit})", values, scale, 0 if unit == "B" else None)
    if _RATE.search(name):
        unit, scale = _scale(nums, _RATE_UNITS)
        return _scaled(name, f"{head} ({unit})", values, scale, None)
    if name.endswith("_pct"):
        return Column(name, f"{head} (%)", True, [_fmt(v, 1) if _number(v) else "" for v in values])
    if all(float(n).is_integer() for n in nums):
        return Column(name, head, True, [_fmt(v, 0) if _number(v) else "" for v in values])
    digits = _decimals(nums)
    return Column(name, head, True, [_fmt(v, digits) if _number(v) else "" for v in values])


def _scaled(name: str, header: str, values: Sequence[Any], scale: float, digits: int | None) -> Column:
    scaled = [float(v) / scale for v in values if _number(v)]
    d = _decimals(scaled) if digits is None else digits
    # a small value beside a large one keeps a digit rather than reading as 0 (up to three decimals)
    while digits is None and d < 3 and any(0 < abs(v) < 0.5 * 10**-d for v in scaled):
        d += 1
    return Column(name, header, True, [_fmt(float(v) / scale, d) if _number(v) else "" for v in values])


def _fmt(v: float, digits: int) -> str:
    text = f"{v:,.{digits}f}"
    if v != 0 and float(text.replace(",", "")) == 0:  # nonzero but below the column's resolution
        return f"< {10**-digits:.{digits}f}" if digits else "< 1"
    return text


def text_cell(v: Any) -> str:
    """A text cell on one line. A value never starts with a separator left over from a sentence fragment."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, bool):
        return "yes" if v else "no"
    return _SEPARATOR.sub("", " ".join(str(v).split()))


def is_fragment(values: Sequence[Any]) -> bool:
    """A text column built only to be spliced into a rule's summary sentence (copy_bound's `pageable_note` is
    ", 2 of them from pageable memory" or ""): every value is empty or starts with a separator. Its facts are in
    other columns, so a table shows it neither as a column nor as a leading comma."""
    texts = [v for v in values if v is not None]
    return (
        bool(texts)
        and all(isinstance(v, str) for v in texts)
        and all(v == "" or _SEPARATOR.match(v) for v in texts)
        and any(v for v in texts)
    )


def layout(columns: Sequence[str], rows: Sequence[Sequence[Any]], t0_ns: int = 0) -> list[Column]:
    """The columns of an evidence table, formatted; rows are the table's rows in order."""
    return [column(name, [r[i] for r in rows], t0_ns) for i, name in enumerate(columns)]
