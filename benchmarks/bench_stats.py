"""Benchmark `inferscope stats` against `nsys stats` on a tiled ~1M-kernel export.

Prints, for the same file: cold time (conversion + all seven reports), warm time (cache hit), peak RSS of each
run, the Parquet cache size, and `nsys stats` time for the same seven reports. CPU seconds (user + system, all
threads) are printed beside wall time: on a shared or virtualised machine they vary less. `--input arrows`
measures InferScope on the same tables written as an nsys Arrow export (what a .nsys-rep is exported to when
the local nsys has no parquetdir); nsys still reads the SQLite file.

    python benchmarks/bench_stats.py [--src ../shared/traces/nsys/h100_2gpu_fastvideo.sqlite] [--kernels 1000000]
        [--input sqlite|arrows] [--work DIR] [--skip-nsys]
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from harness import add_tile_args, input_file, repo_env, tiled_export, timed  # noqa: E402

sys.path.insert(0, str(HERE.parent))  # the checkout's inferscope, whose report list is the one being timed
from inferscope.engine.stats import ALIASES, DEFAULT_REPORTS  # noqa: E402

REPORTS = list(DEFAULT_REPORTS)
NSYS_2022_NAMES = [old for new in REPORTS for old, canonical in ALIASES.items() if canonical == new]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_tile_args(ap)
    args = ap.parse_args()
    work, tiled = tiled_export(args)
    source = input_file(args, tiled)
    env = repo_env()
    cache = work / "cache"
    shutil.rmtree(cache, ignore_errors=True)
    cmd = [sys.executable, "-m", "inferscope", "stats", str(source), "--cache-dir", str(cache), "-f", "csv"]
    for r in REPORTS:
        cmd += ["-r", r]
    cold, cold_rss, cold_cpu = timed(cmd, env)
    warm, warm_rss, warm_cpu = timed(cmd, env)
    parquet_mb = sum(f.stat().st_size for f in cache.rglob("*.parquet")) / 1e6
    print(f"inferscope stats (7 reports) cold: {cold:.2f} s ({cold_cpu:.2f} s CPU), peak RSS {cold_rss} MB")
    print(f"inferscope stats (7 reports) warm: {warm:.2f} s ({warm_cpu:.2f} s CPU), peak RSS {warm_rss} MB")
    print(f"Parquet cache: {parquet_mb:.1f} MB (warm peak RSS / Parquet = {warm_rss / parquet_mb:.1f}x)")
    if not args.skip_nsys and shutil.which("nsys"):
        out = work / "nsys_out"
        out.mkdir(exist_ok=True)
        nsys_wall, nsys_rss, nsys_cpu = timed(
            [
                "nsys",
                "stats",
                "--report",
                ",".join(NSYS_2022_NAMES),
                "--format",
                "csv",
                "--force-overwrite",
                "true",
                "--output",
                str(out / "r"),
                str(tiled),
            ]
        )
        print(f"nsys stats (same 7 reports): {nsys_wall:.2f} s ({nsys_cpu:.2f} s CPU), peak RSS {nsys_rss} MB")
        print(f"speed-up: cold {nsys_wall / cold:.1f}x, warm {nsys_wall / warm:.1f}x")


if __name__ == "__main__":
    main()
