"""Kineto ingest + HTA-style analyses: InferScope cold and warm against Holistic Trace Analysis, on a ~1M-event
trace tiled from a shared one.

Tiling: the source's events are replicated N times; copy i is shifted in time by i * (trace span + 1 ms) and its
correlation / External id / flow ids are offset, so launch <-> kernel joins stay one-to-one. Metadata is kept.
Each measurement runs in its own process (fresh imports, own peak RSS):

* cold: `inferscope.open` with an empty cache (JSON -> model -> Parquet) + temporal, kernel-type and idle-time
  breakdowns (the hta_* views);
* warm: the same with the cache present;
* hta:  `TraceAnalysis(trace_dir)` + get_temporal_breakdown + get_gpu_kernel_breakdown + get_idle_time_breakdown.

    python benchmarks/bench_kineto.py [--source PATH] [--events 1000000] [--skip-hta]
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_SOURCE = (
    Path(os.environ.get("INFERSCOPE_SHARED", REPO.parent / "shared")) / "traces/kineto/v100_rank1_train.json.gz"
)
ANALYSES = ("hta_temporal_breakdown", "hta_kernel_type_breakdown", "hta_idle_time_breakdown")


def tile(src: Path, out: Path, events: int) -> int:
    import orjson

    doc = orjson.loads(gzip.decompress(src.read_bytes()))
    base = doc["traceEvents"]
    copies = max(1, math.ceil(events / len(base)))
    times = [e["ts"] + e.get("dur", 0) for e in base if isinstance(e.get("ts"), (int, float))]
    shift_us = int(max(times) - min(times)) + 1000
    ids = [e["args"].get(k) for e in base if isinstance(e.get("args"), dict) for k in ("correlation", "External id")]
    id_step = (
        max([i for i in ids if isinstance(i, int)] + [e.get("id", 0) for e in base if isinstance(e.get("id"), int)]) + 1
    )
    tiled = []
    for c in range(copies):
        for e in base:
            if c and e.get("ph") in ("M",):
                continue
            e = dict(e)
            if isinstance(e.get("ts"), (int, float)):
                e["ts"] = e["ts"] + c * shift_us
            if isinstance(e.get("id"), int):
                e["id"] = e["id"] + c * id_step
            if isinstance(e.get("args"), dict):
                args = dict(e["args"])
                for k in ("correlation", "External id"):
                    if isinstance(args.get(k), int) and args[k] >= 0:
                        args[k] += c * id_step
                e["args"] = args
            tiled.append(e)
    doc["traceEvents"] = tiled
    out.write_bytes(gzip.compress(orjson.dumps(doc), compresslevel=3))
    return len(tiled)


def _rss_mib() -> float:
    """Peak RSS of this process (VmHWM: unlike ru_maxrss it is not inherited across exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def phase_inferscope(path: Path, cache: Path) -> dict:
    sys.path.insert(0, str(REPO))
    t0, c0 = time.perf_counter(), time.process_time()
    import inferscope

    trace = inferscope.open(path, cache_dir=cache)
    t_open = time.perf_counter() - t0
    rows = {v: trace.sql(f"SELECT * FROM {v}", arrow=True).num_rows for v in ANALYSES}
    return {
        "wall_s": time.perf_counter() - t0,
        "cpu_s": time.process_time() - c0,
        "open_s": t_open,
        "rows": rows,
        "peak_rss_mib": _rss_mib(),
    }


def phase_hta(path: Path) -> dict:
    import logging
    import shutil

    t0, c0 = time.perf_counter(), time.process_time()
    from hta.trace_analysis import TraceAnalysis

    logging.getLogger("hta").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="hta-bench-") as d:
        shutil.copy(path, Path(d) / path.name)
        a = TraceAnalysis(trace_dir=d)
        t_load = time.perf_counter() - t0
        rank = a.t.get_ranks()[0]
        a.get_temporal_breakdown(visualize=False)
        a.get_gpu_kernel_breakdown(visualize=False)
        a.get_idle_time_breakdown(ranks=[rank], visualize=False)
    return {
        "wall_s": time.perf_counter() - t0,
        "cpu_s": time.process_time() - c0,
        "load_s": t_load,
        "peak_rss_mib": _rss_mib(),
    }


def run_phase(*args: str) -> dict:
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    r = subprocess.run([sys.executable, __file__, "--phase", *args], capture_output=True, text=True, env=env)
    if r.returncode != 0:
        raise SystemExit(f"phase {args[0]} failed:\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--skip-hta", action="store_true", help="measure InferScope only")
    ap.add_argument("--keep", type=Path, help="write (or reuse) the tiled trace at this path")
    ap.add_argument("--phase", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.phase:
        kind, path = args.phase[0], Path(args.phase[1])
        result = phase_hta(path) if kind == "hta" else phase_inferscope(path, Path(args.phase[2]))
        print(json.dumps(result))
        return
    with tempfile.TemporaryDirectory(prefix="bench-kineto-") as tmp:
        trace = Path(tmp) / "tiled.json.gz"
        if args.keep:
            trace = args.keep
        if args.keep and trace.exists():
            n = -1
        else:
            t = time.perf_counter()
            n = tile(args.source, trace, args.events)
            print(
                f"tiled {args.source.name} to {n:,} events, {trace.stat().st_size / 2**20:.0f} MiB gz "
                f"({time.perf_counter() - t:.1f} s)"
            )
        cache = Path(tmp) / "cache"
        cold = run_phase("cold", str(trace), str(cache))
        warm = run_phase("warm", str(trace), str(cache))
        print(
            f"inferscope cold (JSON -> model -> Parquet + 3 breakdowns): {cold['wall_s']:.2f} s wall, "
            f"{cold['cpu_s']:.2f} s CPU (open {cold['open_s']:.2f} s), peak RSS {cold['peak_rss_mib']:.0f} MiB"
        )
        print(
            f"inferscope warm (cached Parquet + 3 breakdowns):            {warm['wall_s']:.2f} s wall, "
            f"{warm['cpu_s']:.2f} s CPU, peak RSS {warm['peak_rss_mib']:.0f} MiB"
        )
        if not args.skip_hta:
            hta = run_phase("hta", str(trace))
            print(
                f"HTA 0.5 (load + temporal, kernel, idle breakdowns):         {hta['wall_s']:.2f} s wall, "
                f"{hta['cpu_s']:.2f} s CPU (load {hta['load_s']:.2f} s), peak RSS {hta['peak_rss_mib']:.0f} MiB"
            )
            print(
                f"speed-up cold: {hta['wall_s'] / cold['wall_s']:.1f}x wall, {hta['cpu_s'] / cold['cpu_s']:.1f}x "
                f"CPU; warm: {hta['wall_s'] / warm['wall_s']:.1f}x wall (targets: cold >= 5x, warm <= 1 s)"
            )


if __name__ == "__main__":
    main()
