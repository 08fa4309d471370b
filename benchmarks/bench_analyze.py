"""Benchmark `inferscope analyze` on a tiled ~1M-kernel export (benchmarks/tile_nsys.py), cold and warm.

Prints, for the same file: cold time (conversion to the Parquet cache + analysis), warm time (cache hit +
analysis), the analysis alone (warm minus a warm `inferscope query` that only opens the trace), peak RSS of each
run, and `nsys analyze` time for its six rules on the same file.

    python benchmarks/bench_analyze.py [--src ../shared/traces/nsys/h100_2gpu_fastvideo.sqlite] [--kernels 1000000]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from tile_nsys import tile  # noqa: E402

NSYS_RULES = "cuda-async-memcpy,cuda-sync-memcpy,cuda-sync-memset,cuda-sync-api,gpu-starv,gpu-low-util"


def timed(cmd: list[str], env=None) -> tuple[float, int, float]:
    """Wall seconds, peak RSS (MB) and CPU seconds (user + system, all threads) of a child process (GNU time).

    CPU seconds are printed too because wall time on a shared machine depends on what else runs."""
    t0 = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-f", "%M %U %S", *cmd], stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True, env=env)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {proc.stderr[-2000:]}")
    rss, user, sys_ = proc.stderr.strip().splitlines()[-1].split()
    return wall, int(rss) // 1024, float(user) + float(sys_)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--src", type=Path, default=REPO.parent / "shared/traces/nsys/h100_2gpu_fastvideo.sqlite")
    ap.add_argument("--kernels", type=int, default=1_000_000)
    ap.add_argument("--work", type=Path, default=None, help="directory for the tiled file (default: a temp dir)")
    ap.add_argument("--skip-nsys", action="store_true")
    args = ap.parse_args()

    work = args.work or Path(tempfile.mkdtemp(prefix="inferscope-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    tiled = work / f"tiled_{args.kernels}.sqlite"
    if not tiled.exists():
        info = tile(args.src, tiled, args.kernels)
        print(f"tiled {args.src.name} x{info['copies']}: " + ", ".join(f"{k}={v:,}" for k, v in info["rows"].items()))
    print(f"file: {tiled} ({tiled.stat().st_size / 1e6:.0f} MB)")

    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    cache = work / "cache"
    out = work / "analysis.json"
    shutil.rmtree(cache, ignore_errors=True)
    cmd = [sys.executable, "-m", "inferscope", "analyze", str(tiled), "--cache-dir", str(cache), "-o", str(out)]
    print(f"machine: {os.cpu_count()} CPUs, load average before the runs {os.getloadavg()[0]:.1f}")
    cold, cold_rss, cold_cpu = timed(cmd, env)
    warm, warm_rss, warm_cpu = timed(cmd, env)
    open_only, _, open_cpu = timed([sys.executable, "-m", "inferscope", "query", str(tiled), "SELECT 1",
                                    "--cache-dir", str(cache)], env)
    doc = json.loads(out.read_text())
    kernels = next(m["value"] for m in doc["metrics"] if m["id"] == "kernel_count")
    print(f"kernels: {kernels:,.0f}; findings: {len(doc['findings'])}; rule errors: {len(doc['rule_errors'])}")
    print(f"headline: {doc['headline']}")
    print(f"inferscope analyze cold (convert + analyse): {cold:.1f} s wall, {cold_cpu:.1f} s CPU, "
          f"peak RSS {cold_rss} MB")
    print(f"inferscope analyze warm (cache hit + analyse): {warm:.1f} s wall, {warm_cpu:.1f} s CPU, "
          f"peak RSS {warm_rss} MB")
    print(f"  of which opening the cached trace + CLI start: {open_only:.1f} s wall, {open_cpu:.1f} s CPU")
    if not args.skip_nsys and shutil.which("nsys"):
        nsys_out = work / "nsys_out"
        nsys_out.mkdir(exist_ok=True)
        wall, rss, cpu = timed(["nsys", "analyze", "-r", NSYS_RULES, "--format", "csv", "--force-overwrite", "true",
                                "-o", str(nsys_out / "r"), str(tiled)])
        print(f"nsys analyze (its 6 rules, 50-row cap): {wall:.1f} s wall, {cpu:.1f} s CPU, peak RSS {rss} MB")


if __name__ == "__main__":
    main()
