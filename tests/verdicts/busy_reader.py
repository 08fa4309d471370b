"""The verdict reader's view of the busy ledger (issue 24): from an nsys export's raw GPU_METRICS and kernel rows,
with sqlite3 and plain Python, how the kernel time the counters measured splits into working, resident but
stalled, and GEMMs with idle Tensor Cores. Like reader.py it shares no code with `inferscope/` or `sql/`; the
thresholds and the name tests are the documented ones (docs/gpu-metrics.md, "Busy ledger").

A sample holds from its timestamp to the next sample of its metric, or for one sampling period (the median spacing)
after the last one and where the next is more than four periods away. An execution is measured when it lasts at
least one period and is not a communication kernel. A kernel name's measured executions are judged together by
their time-weighted means: an FP32-named GEMM with Tensor Active under 20 % has idle Tensor Cores; else no unit
(SM issue, Tensor, DRAM read or write) at 30 % of peak is stalled; else any other GEMM under 20 % Tensor Active has
idle Tensor Cores; the rest is working.
"""

from __future__ import annotations

import re
import sqlite3
from collections import defaultdict

from tests.raw_metric_series import RawSeries

UNITS = {
    "SM Issue": "sm_issue",
    "Tensor Active": "tensor",
    "DRAM Read": "dram_read",
    "DRAM Write": "dram_write",
}
GEMM = re.compile(r"gemm|matmul|nvjet|xmma|wgmma|hmma|_mma|cutlass", re.I)
FP32_GEMM = re.compile(r"ffma|simt|sgemm|f32f32_f32f32_f32", re.I)
TENSOR_TAG = re.compile(r"tf32|tensorop|hmma|imma|bf16|f16|s1688|s16816|s884|i8", re.I)


def busy_split(con: sqlite3.Connection, tables: set[str], names: dict[int, str], comm: re.Pattern) -> dict | None:
    """{"working"|"stalled"|"tensor_idle": kernel ns} over the measured executions, or None without GPU metrics.
    One metric source (one GPU) is assumed, as in every export with metrics here."""
    if not {"GPU_METRICS", "TARGET_INFO_GPU_METRICS", "CUPTI_ACTIVITY_KIND_KERNEL"} <= tables:
        return None
    metric_names = dict(con.execute("SELECT metricId, metricName FROM TARGET_INFO_GPU_METRICS"))
    points: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for metric, ts, value in con.execute("SELECT metricId, timestamp, value FROM GPU_METRICS"):
        unit = next((u for prefix, u in UNITS.items() if metric_names.get(metric, "").startswith(prefix)), None)
        if unit is not None:
            points[unit].append((ts, float(value)))
    if not points:
        return None
    series = {u: RawSeries(p) for u, p in points.items()}
    period = max(s.period for s in series.values())
    cols = {r[1] for r in con.execute("PRAGMA table_info(CUPTI_ACTIVITY_KIND_KERNEL)")}
    long_col = "demangledName" if "demangledName" in cols else "shortName"
    per_name: dict[str, dict] = {}
    rows = con.execute(f'SELECT shortName, {long_col}, start, "end" FROM CUPTI_ACTIVITY_KIND_KERNEL')
    for short_id, long_id, start, end in rows:
        name = names.get(long_id, "")
        if end - start < period or comm.search(name):
            continue
        means = {u: s.mean(start, end) for u, s in series.items()}
        if all(v is None for v in means.values()):
            continue
        acc = per_name.setdefault(
            names.get(short_id, ""), {"dur": 0, "name": name, **{u: [0.0, 0] for u in UNITS.values()}}
        )
        acc["dur"] += end - start
        for u, v in means.items():
            if v is not None:
                acc[u][0] += v * (end - start)
                acc[u][1] += end - start
    split = {"working": 0, "stalled": 0, "tensor_idle": 0}
    for acc in per_name.values():
        mean = {u: acc[u][0] / acc[u][1] if acc[u][1] else None for u in UNITS.values()}
        tensor = mean["tensor"]
        busiest = max(v or 0.0 for v in mean.values())
        gemm = bool(GEMM.search(acc["name"]))
        fp32 = gemm and bool(FP32_GEMM.search(acc["name"])) and not TENSOR_TAG.search(acc["name"])
        if fp32 and tensor is not None and tensor < 20:
            cls = "tensor_idle"
        elif busiest < 30:
            cls = "stalled"
        elif gemm and tensor is not None and tensor < 20:
            cls = "tensor_idle"
        else:
            cls = "working"
        split[cls] += acc["dur"]
    return split
