"""Benchmark GPU hardware metrics (issue 24) on a tiled copy of the real H200 GPU-metrics export.

The export (../shared/traces/h200/h200_gpu_metrics_nsys2025.3.sqlite.gz: 5.7 s of 10 kHz samples of 11 metrics,
624k rows) is copied N times end to end: GPU_METRICS and the activity tables shifted by the span of everything
timed in it, correlation ids offset, schema untouched. Prints, for the tiled file: its rows, `inferscope analyze`
cold (conversion to the Parquet cache + analysis, the metric rules and busy ledger included) and warm, the HTML
report warm (its counters chart is the series downsampled in DuckDB to the timeline's bins), and the per-phase metric
table (`inferscope query ... gpu_metrics_by_phase`) warm, each with wall time, CPU seconds and peak RSS.

    python benchmarks/bench_gpu_metrics.py [--copies 20] [--work DIR]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from harness import REPO, repo_env, timed  # noqa: E402
from tile_nsys import append_copies  # noqa: E402

SRC = REPO.parent / "shared/traces/h200/h200_gpu_metrics_nsys2025.3.sqlite.gz"
TILED = (
    "GPU_METRICS",
    "CUPTI_ACTIVITY_KIND_KERNEL",
    "CUPTI_ACTIVITY_KIND_RUNTIME",
    "CUPTI_ACTIVITY_KIND_MEMCPY",
    "CUPTI_ACTIVITY_KIND_MEMSET",
    "CUPTI_ACTIVITY_KIND_SYNCHRONIZATION",
    "NVTX_EVENTS",
    "PROFILER_OVERHEAD",
)
# time columns of each tiled table: GPU_METRICS has sample timestamps, the others start/end
TIME_COLUMNS = ("start", "end", "timestamp", "rawTimestamp")


def tile(src_gz: Path, out: Path, copies: int) -> dict[str, int]:
    """`copies` end-to-end copies of the export's timed rows in `out`; returns the row count per tiled table."""
    with gzip.open(src_gz, "rb") as f, open(out, "wb") as g:
        shutil.copyfileobj(f, g)
    con = sqlite3.connect(out)
    present = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    tables = [t for t in TILED if t in present]
    lo = hi = None
    max_corr = 0
    for t in tables:
        cols = [r[1] for r in con.execute(f'PRAGMA table_info("{t}")')]
        first = "timestamp" if "timestamp" in cols else "start"
        last = "timestamp" if "timestamp" in cols else 'coalesce("end", start)'
        a, b = con.execute(f'SELECT min({first}), max({last}) FROM "{t}" WHERE {first} > 0').fetchone()
        if a is not None:
            lo, hi = (a, b) if lo is None else (min(lo, a), max(hi, b))
        if "correlationId" in cols:
            max_corr = max(max_corr, con.execute(f'SELECT coalesce(max(correlationId), 0) FROM "{t}"').fetchone()[0])
    span = hi - lo + 100_000  # one sampling period between copies, so no two samples share a timestamp
    append_copies(con, tables, copies, span, max_corr, TIME_COLUMNS)
    counts = {t: con.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}
    con.close()
    return counts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--src", type=Path, default=SRC)
    ap.add_argument("--copies", type=int, default=20)
    ap.add_argument("--work", type=Path, default=None, help="directory for the tiled file (default: a temp dir)")
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="inferscope-bench-gm-"))
    work.mkdir(parents=True, exist_ok=True)
    tiled = work / f"gpu_metrics_x{args.copies}.sqlite"
    if not tiled.exists():
        t0 = time.perf_counter()
        counts = tile(args.src, tiled, args.copies)
        print(
            f"tiled x{args.copies} in {time.perf_counter() - t0:.1f} s: "
            + ", ".join(f"{k}={v:,}" for k, v in counts.items())
        )
    print(f"file: {tiled} ({tiled.stat().st_size / 1e6:.0f} MB)")
    print(f"machine: {os.cpu_count()} CPUs, load average before the runs {os.getloadavg()[0]:.1f}")
    env = repo_env()
    cache = work / "cache"
    shutil.rmtree(cache, ignore_errors=True)
    out = work / "analysis.json"
    cmd = [sys.executable, "-m", "inferscope", "analyze", str(tiled), "--cache-dir", str(cache), "-o", str(out)]
    cold = timed(cmd, env)
    warm = timed(cmd, env)
    page = work / "report.html"
    html = timed([*cmd[:-1], str(page)], env)
    query = [sys.executable, "-m", "inferscope", "query", str(tiled), "--cache-dir", str(cache), "-f", "csv"]
    phases = timed([*query, "SELECT phase, metric_id, mean_value FROM gpu_metrics_by_phase"], env)
    opened = timed([*query, "SELECT 1"], env)
    counted = subprocess.run(
        [*query, "SELECT count(*) AS n FROM gpu_metrics"], env=env, cwd=REPO, capture_output=True, text=True, check=True
    )
    samples = int(counted.stdout.splitlines()[1])
    doc = json.loads(out.read_text())
    print(f"samples in the model: {samples:,}")
    print(f"findings: {sorted({f['rule_id'] for f in doc['findings']})}; rule errors: {len(doc['rule_errors'])}")
    for label, (wall, rss, cpu) in (
        ("analyze cold (convert + analyse)", cold),
        ("analyze warm (cache hit + analyse)", warm),
        (f"analyze -o report.html warm ({page.stat().st_size / 1e3:.0f} kB)", html),
        ("query gpu_metrics_by_phase (warm)", phases),
        ("query SELECT 1 (open + CLI start)", opened),
    ):
        print(f"{label}: {wall:.1f} s wall, {cpu:.1f} s CPU, peak RSS {rss} MB")


if __name__ == "__main__":
    main()
