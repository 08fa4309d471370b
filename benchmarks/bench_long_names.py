"""Peak memory with many long, unique NVTX names (issue 17, class 8): an edited or generated export whose NVTX
texts are each kilobytes long and all different, as string-formatted ranges (a request id, a prompt, a shape
list in the name) produce. The strings alone are rows x length bytes; the question is how many times over the
process holds them. Prints InferScope's `analyze` beside `nsys stats` on the same file.

    python benchmarks/bench_long_names.py --rows 150000 --length 10000
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from harness import REPO, repo_env, timed

sys.path.insert(0, str(REPO))
from tests.trace_edits import long_names_copy  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--src", type=Path, default=REPO.parent / "shared/traces/nsys/h100_2gpu_fastvideo.sqlite")
    ap.add_argument("--rows", type=int, default=150_000)
    ap.add_argument("--length", type=int, default=10_000)
    ap.add_argument("--work", type=Path, default=None)
    ap.add_argument("--skip-nsys", action="store_true")
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="inferscope-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    path = work / f"long_names_{args.rows}x{args.length}.sqlite"
    if not path.exists():
        long_names_copy(args.src, work, args.rows, args.length)
    text_mb = args.rows * args.length / 1e6
    print(f"file: {path} ({path.stat().st_size / 1e6:.0f} MB; NVTX texts {text_mb:.0f} MB)")
    print(f"{'tool':<36}{'wall s':>9}{'CPU s':>9}{'peak RSS MB':>13}{'RSS / texts':>13}")
    cache = work / "cache"
    shutil.rmtree(cache, ignore_errors=True)
    inferscope = [sys.executable, "-m", "inferscope"]
    analyze = [*inferscope, "analyze", str(path), "-f", "json", "-o", str(work / "a.json"), "--cache-dir", str(cache)]
    runs = [
        ("inferscope analyze (cold cache)", analyze),
        ("inferscope analyze (warm cache)", analyze),
        ("inferscope stats nvtx_sum", [*inferscope, "stats", str(path), "-r", "nvtx_sum", "--cache-dir", str(cache)]),
        *(
            (
                f"inferscope stats nvtx_sum -f {fmt}",
                [*inferscope, "stats", str(path), "-r", "nvtx_sum", "-f", fmt, "--cache-dir", str(cache)],
            )
            for fmt in ("csv", "json")
        ),
    ]
    if not args.skip_nsys and shutil.which("nsys"):
        runs.append(("nsys stats nvtxppsum", ["nsys", "stats", "-q", "-r", "nvtxppsum", "-f", "csv", str(path)]))
    for label, cmd in runs:
        wall, rss, cpu = timed(cmd, env=repo_env())
        print(f"{label:<36}{wall:>9.1f}{cpu:>9.1f}{rss:>13,}{rss / text_mb:>13.1f}")


if __name__ == "__main__":
    main()
