"""Small traces, where an `inferscope analyze` is all fixed costs (issue 21: under 200k events, cold <= 2 s, warm
<= 0.5 s): the command itself, cold and warm, in fresh processes, then where one cold analysis spends its time.

Each run is `python -m inferscope analyze TRACE -f json` from `--checkout` (default: this one), so a copy of an older
commit (`git archive COMMIT | tar -x -C DIR`) measures the code before a change on the same files and machine.
Cold: an empty cache folder each run. Warm: the cache (and the derived tables) the cold run left.

The stage split runs one cold analysis in-process (a warm one only reads the stored analysis), with the analysis's
own functions wrapped by timers:

- import: `import inferscope` and the analyze package (DuckDB, pyarrow);
- open: the conversion into the cached model;
- prepare: the derived tables computed, and the views created on the way;
- metrics+rules: the metric files, the rules and the storing of the derived tables, side by side
  (`query_workers.run`), their planning included;
- serving: the serving section (requests), when the trace has one;
- rest: steps, device table, headline, data quality, storing the analysis;
- render: the JSON document.

    python benchmarks/bench_small_traces.py [--checkout DIR] [--runs 3] [TRACE ...]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness import compile_checkout  # noqa: E402 - beside this script

REPO = Path(__file__).resolve().parent.parent
TRACES = [
    REPO / "sample_traces/h100_2gpu_fastvideo.sqlite",
    REPO.parent / "shared/traces/h200/h200_llm_decode_cudagraph.json.gz",
    REPO.parent / "shared/traces/h200/h200_llm_decode_eager.json.gz",
]
_GNU_TIME = ["/usr/bin/time", "-f", "%M %U %S"]


def _run(checkout: Path, args: list[str], env: dict) -> tuple[float, float, int, str]:
    """(wall s, CPU s, peak RSS MB, stdout) of one child run in `checkout` (its package is imported first)."""
    t0 = time.perf_counter()
    proc = subprocess.run(
        [*_GNU_TIME, sys.executable, *args], capture_output=True, text=True, env=env, cwd=checkout, check=False
    )
    wall = time.perf_counter() - t0
    if proc.returncode:
        raise SystemExit(f"{args} failed: {proc.stderr[-2000:]}")
    rss, user, sys_ = proc.stderr.strip().splitlines()[-1].split()
    return wall, float(user) + float(sys_), int(rss) // 1024, proc.stdout


def _stages(trace: str, cache: str) -> dict:
    """One cold analysis in this process (an empty cache), split by stage (see the module docstring). Cold, since a
    warm one only reads the stored analysis."""
    spent: dict[str, float] = {}
    t = time.perf_counter()
    import inferscope
    import inferscope.analyze as an
    from inferscope.analyze import query_workers

    spent["import"] = time.perf_counter() - t

    def timer(name, fn):
        def wrapped(*a, **kw):
            s = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                spent[name] = spent.get(name, 0.0) + time.perf_counter() - s

        return wrapped

    an.prepare = timer("prepare", an.prepare)
    query_workers.run = timer("metrics+rules", query_workers.run)
    an._serving.section = timer("serving", an._serving.section)
    t = time.perf_counter()
    trace_ = inferscope.open(trace, cache_dir=cache)
    spent["open"] = time.perf_counter() - t
    t = time.perf_counter()
    analysis = trace_.analyze()
    whole = time.perf_counter() - t
    spent["rest"] = whole - sum(spent.get(k, 0.0) for k in ("prepare", "metrics+rules", "serving"))
    t = time.perf_counter()
    from inferscope.render import render

    render(analysis, "json")
    spent["render"] = time.perf_counter() - t
    return spent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("traces", nargs="*", type=Path, default=TRACES)
    ap.add_argument("--checkout", type=Path, default=REPO)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--stages-child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.stages_child:
        sys.path.insert(0, os.getcwd())
        print(json.dumps(_stages(*args.stages_child)))
        return
    checkout = args.checkout.resolve()
    compile_checkout(checkout)
    env = dict(os.environ, PYTHONPATH=str(checkout))
    print(f"checkout {checkout}, load average {os.getloadavg()[0]:.1f}")
    print(f"{'trace':40s} {'run':5s} {'wall s':>14s} {'CPU s':>14s} {'peak MB':>10s}")
    for trace in args.traces:
        trace = trace.resolve()
        cmd = ["-m", "inferscope", "analyze", str(trace), "-f", "json"]
        with tempfile.TemporaryDirectory(prefix="inferscope-small-") as tmp:
            figures: dict[str, list] = {"cold": [], "warm": []}
            for i in range(args.runs):
                cache = Path(tmp) / f"cold{i}"
                figures["cold"].append(_run(checkout, cmd, dict(env, INFERSCOPE_CACHE_DIR=str(cache))))
            warm_env = dict(env, INFERSCOPE_CACHE_DIR=str(Path(tmp) / "cold0"))
            for _ in range(args.runs):
                figures["warm"].append(_run(checkout, cmd, warm_env))
            for kind, runs in figures.items():
                walls, cpus, rss = [r[0] for r in runs], [r[1] for r in runs], [r[2] for r in runs]
                print(
                    f"{trace.name:40s} {kind:5s} {min(walls):6.2f} - {max(walls):5.2f} {min(cpus):6.2f} - {max(cpus):5.2f}"
                    f" {min(rss):4d} - {max(rss):4d}"
                )
            stage_cmd = [str(Path(__file__).resolve()), "--stages-child", str(trace), str(Path(tmp) / "stages")]
            _, _, _, out = _run(checkout, stage_cmd, env)
            spent = json.loads(out)
            print("  cold, in-process: " + ", ".join(f"{k} {v:.2f}" for k, v in spent.items()) + " (s)")


if __name__ == "__main__":
    main()
