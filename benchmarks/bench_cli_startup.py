"""How long the first things a newcomer types take: `inferscope --help`, a command's help, and `stats` on the
bundled H100 sample (table and CSV, cache warm). Issue 16's target for `--help` is under 0.3 s.

Each command runs --runs times in a child process; the median wall time and CPU seconds (user + system, from
getrusage of the children) are printed beside the interpreter's own start-up (`python -c pass`). CPU seconds vary
less than wall time on a shared machine. Bytecode is compiled once into a private folder first
(PYTHONPYCACHEPREFIX), as `pip install` does for an installed package: a checkout run with PYTHONDONTWRITEBYTECODE
recompiles every module on every run and would time the compiler.

    python benchmarks/bench_cli_startup.py [--runs 9] [--importtime]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "sample_traces" / "h100_2gpu_fastvideo.sqlite"


def _env(pycache: str, cache: str) -> dict:
    env = dict(os.environ, PYTHONPYCACHEPREFIX=pycache, INFERSCOPE_CACHE_DIR=cache)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _once(cmd: list[str], env: dict) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, cwd=REPO)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _measure(cmd: list[str], env: dict, runs: int) -> tuple[float, float]:
    _once(cmd, env)  # compiles bytecode, fills the trace cache
    samples = [_once(cmd, env) for _ in range(runs)]
    return statistics.median(w for w, _ in samples), statistics.median(c for _, c in samples)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--importtime", action="store_true", help="also print the 15 slowest imports of --help")
    args = ap.parse_args()
    py = sys.executable
    cases = [
        ("python -c pass", [py, "-c", "pass"]),
        ("inferscope --help", [py, "-m", "inferscope", "--help"]),
        ("inferscope analyze --help", [py, "-m", "inferscope", "analyze", "--help"]),
        ("inferscope stats --help", [py, "-m", "inferscope", "stats", "--help"]),
        ("inferscope stats SAMPLE (table, warm)", [py, "-m", "inferscope", "stats", str(SAMPLE)]),
        ("inferscope stats SAMPLE -f csv (warm)", [py, "-m", "inferscope", "stats", str(SAMPLE), "-f", "csv"]),
    ]
    with tempfile.TemporaryDirectory() as pycache, tempfile.TemporaryDirectory() as cache:
        env = _env(pycache, cache)
        print(f"{'command':<40} {'wall (median)':>14} {'CPU (median)':>13}   ({args.runs} runs, {os.cpu_count()} CPUs)")
        for name, cmd in cases:
            wall, cpu = _measure(cmd, env, args.runs)
            print(f"{name:<40} {wall:>12.3f} s {cpu:>11.3f} s")
        print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        if args.importtime:
            proc = subprocess.run(
                [py, "-X", "importtime", "-m", "inferscope", "--help"], env=env, capture_output=True, text=True
            )
            rows = [ln.split("|") for ln in proc.stderr.splitlines() if ln.startswith("import time:") and "|" in ln]
            rows = [(int(r[1]), r[2].rstrip()) for r in rows if r[1].strip().isdigit()]
            print("slowest imports of --help (cumulative µs):")
            for us, name in sorted(rows, reverse=True)[:15]:
                print(f"  {us:>8}  {name}")


if __name__ == "__main__":
    main()
