"""How long `inferscope.compare` takes, and how it grows with trace size.

For each size, a real export (default: the FastVideo H100 trace) is tiled to about N kernels with tile_nsys.py,
copied with every kernel 3 % slower, and both are compared: once cold (conversion included) and once warm (tables
from the cache, which is what a second `compare` in CI pays). Prints one line per size and the peak RSS.

    python benchmarks/compare_speed.py --kernels 3442 50000 200000
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

DEFAULT_SRC = Path(__file__).resolve().parent.parent / "sample_traces" / "h100_2gpu_fastvideo.sqlite"


def slower_copy(src: Path, dst: Path, factor: float) -> None:
    shutil.copyfile(src, dst)
    with sqlite3.connect(dst) as con:
        con.execute(
            'UPDATE CUPTI_ACTIVITY_KIND_KERNEL SET "end" = start + CAST(("end" - start) * ? AS INTEGER)', (factor,)
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--src", type=Path, default=DEFAULT_SRC)
    ap.add_argument("--kernels", type=int, nargs="+", default=[3442, 50000, 200000])
    ap.add_argument("--no-analysis-metrics", action="store_true", help="skip the analysis engine's metrics")
    args = ap.parse_args()

    import inferscope
    from tile_nsys import tile

    analysis = not args.no_analysis_metrics
    print(
        f"source {args.src.name}; compare base vs a copy with every kernel 3 % slower (threshold 5 %); "
        f"analysis metrics {'on' if analysis else 'off'}"
    )
    print(f"{'kernels':>9} {'ranges':>9} {'cold s':>8} {'warm s':>8} {'metrics':>8} {'gated':>6} verdict")
    with tempfile.TemporaryDirectory(prefix="inferscope-bench-") as tmp:
        tmp = Path(tmp)
        for n in args.kernels:
            base = tmp / f"base_{n}.sqlite"
            if n <= 3442 and args.src == DEFAULT_SRC:
                shutil.copyfile(args.src, base)
            else:
                tile(args.src, base, n)
            new = tmp / f"new_{n}.sqlite"
            slower_copy(base, new, 1.03)
            cache = tmp / f"cache_{n}"
            t0 = time.perf_counter()
            inferscope.compare(base, new, cache_dir=cache, analysis_metrics=analysis)
            cold = time.perf_counter() - t0
            t0 = time.perf_counter()
            c = inferscope.compare(base, new, cache_dir=cache, analysis_metrics=analysis)
            warm = time.perf_counter() - t0
            with sqlite3.connect(base) as con:
                kernels = con.execute("SELECT count(*) FROM CUPTI_ACTIVITY_KIND_KERNEL").fetchone()[0]
                ranges = con.execute("SELECT count(*) FROM NVTX_EVENTS").fetchone()[0]
            print(
                f"{kernels:>9,} {ranges:>9,} {cold:>8.2f} {warm:>8.2f} {len(c.metrics):>8} {len(c.gated):>6} "
                f"{c.verdict}"
            )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak:,.0f} MiB")


if __name__ == "__main__":
    main()
