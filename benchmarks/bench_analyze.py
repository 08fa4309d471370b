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
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from harness import add_tile_args, input_file, repo_env, tiled_export, timed  # noqa: E402

NSYS_RULES = "cuda-async-memcpy,cuda-sync-memcpy,cuda-sync-memset,cuda-sync-api,gpu-starv,gpu-low-util"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_tile_args(ap)
    args = ap.parse_args()
    work, tiled = tiled_export(args)
    source = input_file(args, tiled)
    env = repo_env()
    cache = work / "cache"
    out = work / "analysis.json"
    shutil.rmtree(cache, ignore_errors=True)
    cmd = [sys.executable, "-m", "inferscope", "analyze", str(source), "--cache-dir", str(cache), "-o", str(out)]
    print(f"machine: {os.cpu_count()} CPUs, load average before the runs {os.getloadavg()[0]:.1f}")
    cold, cold_rss, cold_cpu = timed(cmd, env)
    warm, warm_rss, warm_cpu = timed(cmd, env)
    open_only, _, open_cpu = timed(
        [sys.executable, "-m", "inferscope", "query", str(source), "SELECT 1", "--cache-dir", str(cache)], env
    )
    doc = json.loads(out.read_text())
    kernels = next(m["value"] for m in doc["metrics"] if m["id"] == "kernel_count")
    print(f"kernels: {kernels:,.0f}; findings: {len(doc['findings'])}; rule errors: {len(doc['rule_errors'])}")
    print(f"headline: {doc['headline']}")
    print(
        f"inferscope analyze cold (convert + analyse): {cold:.1f} s wall, {cold_cpu:.1f} s CPU, peak RSS {cold_rss} MB"
    )
    print(
        f"inferscope analyze warm (cache hit + analyse): {warm:.1f} s wall, {warm_cpu:.1f} s CPU, "
        f"peak RSS {warm_rss} MB"
    )
    print(f"  of which opening the cached trace + CLI start: {open_only:.1f} s wall, {open_cpu:.1f} s CPU")
    if not args.skip_nsys and shutil.which("nsys"):
        nsys_out = work / "nsys_out"
        nsys_out.mkdir(exist_ok=True)
        wall, rss, cpu = timed(
            [
                "nsys",
                "analyze",
                "-r",
                NSYS_RULES,
                "--format",
                "csv",
                "--force-overwrite",
                "true",
                "-o",
                str(nsys_out / "r"),
                str(tiled),
            ]
        )
        print(f"nsys analyze (its 6 rules, 50-row cap): {wall:.1f} s wall, {cpu:.1f} s CPU, peak RSS {rss} MB")


if __name__ == "__main__":
    main()
