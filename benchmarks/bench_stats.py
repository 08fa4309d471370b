"""Benchmark `inferscope stats` against `nsys stats` on a tiled ~1M-kernel export.

Prints, for the same file: cold time (conversion + all seven reports), warm time (cache hit), peak RSS of each
run, the Parquet cache size, and `nsys stats` time for the same seven reports.

    python benchmarks/bench_stats.py [--src ../shared/traces/nsys/h100_2gpu_fastvideo.sqlite] [--kernels 1000000]
"""
from __future__ import annotations

import argparse
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

REPORTS = ["cuda_api_sum", "cuda_gpu_kern_sum", "cuda_gpu_mem_time_sum", "cuda_gpu_mem_size_sum", "nvtx_sum",
           "osrt_sum", "cuda_kern_exec_sum"]
NSYS_2022_NAMES = ["cudaapisum", "gpukernsum", "gpumemtimesum", "gpumemsizesum", "nvtxsum", "osrtsum", "kernexecsum"]


def peak_rss(cmd: list[str], env=None) -> tuple[float, int]:
    """Wall seconds and peak RSS (MB) of a child process, measured with GNU time."""
    t0 = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-f", "%M", *cmd], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          text=True, env=env)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {proc.stderr[-2000:]}")
    return wall, int(proc.stderr.strip().splitlines()[-1]) // 1024


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
    shutil.rmtree(cache, ignore_errors=True)
    cmd = [sys.executable, "-m", "inferscope", "stats", str(tiled), "--cache-dir", str(cache), "-f", "csv"]
    for r in REPORTS:
        cmd += ["-r", r]
    cold, cold_rss = peak_rss(cmd, env)
    warm, warm_rss = peak_rss(cmd, env)
    parquet_mb = sum(f.stat().st_size for f in cache.rglob("*.parquet")) / 1e6
    print(f"inferscope stats (7 reports) cold: {cold:.2f} s, peak RSS {cold_rss} MB")
    print(f"inferscope stats (7 reports) warm: {warm:.2f} s, peak RSS {warm_rss} MB")
    print(f"Parquet cache: {parquet_mb:.1f} MB (warm peak RSS / Parquet = {warm_rss / parquet_mb:.1f}x)")
    if not args.skip_nsys and shutil.which("nsys"):
        out = work / "nsys_out"
        out.mkdir(exist_ok=True)
        nsys_wall, nsys_rss = peak_rss(["nsys", "stats", "--report", ",".join(NSYS_2022_NAMES), "--format", "csv",
                                        "--force-overwrite", "true", "--output", str(out / "r"), str(tiled)])
        print(f"nsys stats (same 7 reports): {nsys_wall:.2f} s, peak RSS {nsys_rss} MB")
        print(f"speed-up: cold {nsys_wall / cold:.1f}x, warm {nsys_wall / warm:.1f}x")


if __name__ == "__main__":
    main()
