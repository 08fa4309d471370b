"""Benchmark GPU hardware metrics (issue 24) on a tiled copy of the real H200 GPU-metrics export.

The export (../shared/traces/h200/h200_gpu_metrics_nsys2025.3.sqlite.gz: 5.7 s of 10 kHz samples of 11 metrics,
624k rows) is copied N times end to end: GPU_METRICS and the activity tables shifted by the span of everything
timed in it, correlation ids offset, schema untouched. For each factor it prints, each in its own process with wall
time, CPU seconds and peak RSS: the conversion to the Parquet cache (`inferscope query ... SELECT 1`, cold), the
time-weighted window means (`gpu_metrics_during`) over every kernel, every NVTX range and every idle gap (warm),
then `inferscope analyze` (metric rules, busy ledger, derived tables computed) and the HTML report (its counters
chart is the series downsampled in DuckDB to the timeline's bins). INFERSCOPE_MEMORY_LIMIT, when set, caps DuckDB.
The conversion streams GPU_METRICS (ingest/gpu_metric_series.py: two passes, a batch at a time), so its memory
does not grow with the samples; --model-copies tiles the converted model of the export instead, for factors
whose SQLite file would be too large to build here, and times only the window means on it.

    python benchmarks/bench_gpu_metrics.py [--copies 10 20] [--model-copies 50 100] [--work DIR] [--skip-analyze]
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
    append_copies(con, tables, copies, span, max_corr, TIME_COLUMNS, copy_major=True)
    counts = {t: con.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}
    con.close()
    return counts


# the window means themselves (gpu_metrics_during), without the rest of an analysis: GPU-side windows (every kernel
# on its GPU), host-side windows (every NVTX range on every GPU with metrics) and idle gaps
DURING = {
    "kernels": "SELECT row_number() OVER (ORDER BY device_id, start_ns, stream_id, correlation_id) AS interval_id, "
    "device_id, start_ns, end_ns FROM kernels",
    "NVTX ranges": "SELECT range_id AS interval_id, CAST(NULL AS BIGINT) AS device_id, start_ns, end_ns "
    "FROM nvtx_ranges WHERE category IS DISTINCT FROM 'gpu_user_annotation'",
    "idle gaps": "SELECT gap_id AS interval_id, device_id, start_ns, end_ns FROM gpu_idle_gaps",
}


def one_factor(args: argparse.Namespace, work: Path, copies: int, env: dict) -> None:
    tiled = work / f"gpu_metrics_x{copies}.sqlite"
    if not tiled.exists():
        t0 = time.perf_counter()
        counts = tile(args.src, tiled, copies)
        print(
            f"tiled x{copies} in {time.perf_counter() - t0:.1f} s: "
            + ", ".join(f"{k}={v:,}" for k, v in counts.items())
        )
    print(f"file: {tiled} ({tiled.stat().st_size / 1e6:.0f} MB)")
    print(f"machine: {os.cpu_count()} CPUs, load average before the runs {os.getloadavg()[0]:.1f}")
    cache = work / f"cache_x{copies}"
    shutil.rmtree(cache, ignore_errors=True)
    query = [sys.executable, "-m", "inferscope", "query", str(tiled), "--cache-dir", str(cache), "-f", "csv"]
    runs = [("convert (query SELECT 1, cold)", timed([*query, "SELECT 1"], env))]
    counted = subprocess.run(
        [*query, "SELECT count(*) AS n FROM gpu_metrics"], env=env, cwd=REPO, capture_output=True, text=True, check=True
    )
    print(f"x{copies}: samples in the model: {int(counted.stdout.splitlines()[1]):,}")
    for label, windows in DURING.items():
        sql = f"WITH w AS ({windows}) SELECT count(*) AS n, sum(mean_value) AS s FROM gpu_metrics_during(w)"
        runs.append((f"gpu_metrics_during over {label} (warm)", timed([*query, sql], env)))
    if not args.skip_analyze:
        out = work / f"analysis_x{copies}.json"
        cmd = [sys.executable, "-m", "inferscope", "analyze", str(tiled), "--cache-dir", str(cache), "-o", str(out)]
        runs.append(("analyze (derived tables computed)", timed(cmd, env)))
        doc = json.loads(out.read_text())
        print(f"findings: {sorted({f['rule_id'] for f in doc['findings']})}; rule errors: {len(doc['rule_errors'])}")
        page = work / f"report_x{copies}.html"
        runs.append(("analyze -o report.html (derived tables read)", timed([*cmd[:-1], str(page)], env)))
    for label, (wall, rss, cpu) in runs:
        print(f"x{copies} {label}: {wall:.1f} s wall, {cpu:.1f} s CPU, peak RSS {rss} MB")
    shutil.rmtree(cache, ignore_errors=True)


# tables of the converted model that the window means read, tiled as the model (times shifted, ids offset)
MODEL_TILED = {
    "kernels": ("correlation_id",),
    "memcpy": ("correlation_id",),
    "memset": ("correlation_id",),
    "nvtx_ranges": ("range_id", "parent_id"),
}


def tile_model(entry: Path, out: Path, copies: int) -> int:
    """`copies` end-to-end copies of a converted model (a cache entry's Parquet files) in `out`, for sample counts
    whose SQLite conversion would not fit this machine: gpu_metrics shifted with its running integrals continued,
    the windows' tables shifted with ids offset, every other table copied. Returns the samples written."""
    import duckdb

    out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute("SET memory_limit = '2GB'")
    con.execute(f"SET temp_directory = '{out / '.spill'}'")
    src = {f.stem: f"read_parquet('{f}')" for f in entry.glob("*.parquet")}
    lo, hi = con.execute(f"SELECT min(ts_ns), max(end_ns) FROM {src['gpu_metrics']}").fetchone()
    span = hi - lo + 100_000
    con.execute(
        f"CREATE TABLE tot AS SELECT device_id, metric_id, count(*) AS n, sum(value * (end_ns - ts_ns)) AS v, "
        f"CAST(sum(end_ns - ts_ns) AS BIGINT) AS c FROM {src['gpu_metrics']} GROUP BY ALL"
    )
    con.execute(
        f"COPY (SELECT g.ts_ns + k.i * {span} AS ts_ns, g.end_ns + k.i * {span} AS end_ns, g.device_id, g.metric_id, "
        "g.value, g.sample_index + k.i * t.n AS sample_index, g.cum_value_ns + k.i * t.v AS cum_value_ns, "
        f"g.cum_covered_ns + k.i * t.c AS cum_covered_ns FROM {src['gpu_metrics']} g JOIN tot t USING (device_id, "
        f"metric_id), range({copies}) k(i)) TO '{out / 'gpu_metrics.parquet'}' (FORMAT parquet)"
    )
    con.execute(
        f"COPY (SELECT * REPLACE (samples * {copies} AS samples, last_ns + {(copies - 1) * span} AS last_ns) "
        f"FROM {src['gpu_metric_info']}) TO '{out / 'gpu_metric_info.parquet'}' (FORMAT parquet)"
    )
    for name, ids in MODEL_TILED.items():
        step = con.execute(f"SELECT coalesce(max(greatest({', '.join(ids)})), 0) + 1 FROM {src[name]}").fetchone()[0]
        shifted = [f"start_ns + k.i * {span} AS start_ns", f"end_ns + k.i * {span} AS end_ns"]
        shifted += [f"{c} + k.i * {step} AS {c}" for c in ids]
        con.execute(
            f"COPY (SELECT t.* REPLACE ({', '.join(shifted)}) FROM {src[name]} t, range({copies}) k(i)) "
            f"TO '{out / f'{name}.parquet'}' (FORMAT parquet)"
        )
    for name, path in src.items():
        if name not in MODEL_TILED and name not in ("gpu_metrics", "gpu_metric_info"):
            shutil.copy(path[len("read_parquet('") : -2], out / f"{name}.parquet")
    samples = con.execute(f"SELECT count(*) FROM read_parquet('{out / 'gpu_metrics.parquet'}')").fetchone()[0]
    con.close()
    shutil.rmtree(out / ".spill", ignore_errors=True)
    return samples


# one query on an Engine over a tiled model's Parquet files, in a child process of its own
RUN_ON_MODEL = (
    "import sys; from pathlib import Path; from inferscope.engine.core import Engine; "
    "print(Engine(Path(sys.argv[1])).con.execute(sys.argv[2]).fetchall())"
)


def model_factor(args: argparse.Namespace, work: Path, copies: int, env: dict) -> None:
    cache = work / "cache_x1"
    query = [sys.executable, "-m", "inferscope", "query", str(args.src), "--cache-dir", str(cache), "-f", "csv"]
    subprocess.run([*query, "SELECT 1"], env=env, cwd=REPO, capture_output=True, check=True)
    (entry,) = [p.parent for p in cache.glob("*/gpu_metrics.parquet")]
    model = work / f"model_x{copies}"
    t0 = time.perf_counter()
    samples = tile_model(entry, model, copies)
    print(f"model x{copies}: {samples:,} samples, tiled in {time.perf_counter() - t0:.1f} s")
    print(f"machine: {os.cpu_count()} CPUs, load average before the runs {os.getloadavg()[0]:.1f}")
    for label, windows in DURING.items():
        if label == "idle gaps":
            continue  # gaps are derived from every activity table, not all of which the model tile copies
        sql = f"WITH w AS ({windows}) SELECT count(*) AS n, sum(mean_value) AS s FROM gpu_metrics_during(w)"
        wall, rss, cpu = timed([sys.executable, "-c", RUN_ON_MODEL, str(model), sql], env)
        print(f"model x{copies} gpu_metrics_during over {label}: {wall:.1f} s wall, {cpu:.1f} s CPU, peak RSS {rss} MB")
    shutil.rmtree(model, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--src", type=Path, default=SRC)
    ap.add_argument("--copies", type=int, nargs="*", default=[20], help="tiling factors, each measured in turn")
    ap.add_argument("--work", type=Path, default=None, help="directory for the tiled files (default: a temp dir)")
    ap.add_argument("--skip-analyze", action="store_true", help="time only the conversion and the window means")
    ap.add_argument(
        "--model-copies",
        type=int,
        nargs="*",
        default=[],
        help="also tile the converted model (not the SQLite export) this many times and time the window means on it",
    )
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="inferscope-bench-gm-"))
    work.mkdir(parents=True, exist_ok=True)
    env = repo_env()
    for copies in args.copies:
        one_factor(args, work, copies, env)
    for copies in args.model_copies:
        model_factor(args, work, copies, env)


if __name__ == "__main__":
    main()
