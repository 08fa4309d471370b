"""Benchmark the fleet analysis (issue 23) at 64 and 512 ranks, with 1, 2 and 4 local Dask workers.

The ranks are synthetic, and named so (`synthetic_rankR_of_N.json.gz`, traceName "synthetic: ..."): copies of the
shared 8-rank DLRM job (../shared/traces/fleet/dlrm_v100x8_ddp), rank R a copy of real rank R % 8 with its rank
and world size rewritten and every timestamp shifted by a deterministic jitter of up to +-JITTER µs, so the
collectives still line up as one job's and the stragglers move around.

Prints per (ranks, workers): wall time of the map (conversion + per-rank tables on the cluster, a fresh cache
each time), the largest worker peak RSS, wall time and peak RSS of the reduce (run in a child process so that its
memory is its own), the straggler named, and the machine's 1-minute load average before and after the row (the
times mean little where other work shares the cores).

    python benchmarks/bench_fleet.py [--ranks 64 512] [--workers 1 2 4] [--work /tmp/inferscope-fleet-bench]
    python benchmarks/bench_fleet.py --reduce-only 512 4096

--reduce-only N measures the reduce alone at N ranks where converting N ranks is too slow for the machine: the 8
shared ranks are mapped once, then their per-rank tables (not the traces) are copied N/8 times with ranks renumbered
and times shifted by the same jitter, and the reduce runs over those.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))

SOURCE = REPO.parent / "shared" / "traces" / "fleet" / "dlrm_v100x8_ddp"
JITTER_US = 500


def build(ranks: int, out: Path) -> list[Path]:
    """`ranks` synthetic rank files in `out` (built once, reused)."""
    out.mkdir(parents=True, exist_ok=True)
    files = [out / f"synthetic_rank{r}_of_{ranks}.json.gz" for r in range(ranks)]
    if all(f.exists() for f in files):
        return files
    sources = {}
    for path in sorted(SOURCE.glob("*.json.gz")):
        doc = json.loads(gzip.decompress(path.read_bytes()))
        sources[doc["distributedInfo"]["rank"]] = (path.name, doc)
    rng = random.Random(ranks)
    for r, target in enumerate(files):
        name, doc = sources[r % len(sources)]
        shift = rng.randint(-JITTER_US, JITTER_US)
        events = []
        for e in doc["traceEvents"]:
            e = dict(e)
            if isinstance(e.get("ts"), (int, float)):
                e["ts"] = e["ts"] + shift
            events.append(e)
        copy = {**doc, "traceEvents": events}
        copy["distributedInfo"] = {**doc["distributedInfo"], "rank": r, "world_size": ranks}
        copy["traceName"] = f"synthetic: {name} shifted by {shift} us as rank {r} of {ranks}"
        target.write_bytes(gzip.compress(json.dumps(copy).encode(), compresslevel=1))
    return files


_REDUCE = """
import json, resource, sys, time
from inferscope.fleet.reduce import reduce
ranks = json.load(open(sys.argv[1]))
t = time.perf_counter()
result = reduce(ranks, [])
print(json.dumps({"seconds": time.perf_counter() - t, "straggler": (result.straggler or {}).get("rank"),
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def run(files: list[Path], workers: int, work: Path) -> dict:
    from inferscope.fleet.run import map_ranks

    cache = work / f"cache-{len(files)}-{workers}"
    shutil.rmtree(cache, ignore_errors=True)
    t = time.perf_counter()
    results = map_ranks(files, cache, None, workers, lambda _m: None)
    map_s = time.perf_counter() - t
    good = [r for r in results if r["ok"]]
    ranks_file = work / "ranks.json"
    ranks_file.write_text(json.dumps(good))
    proc = subprocess.run(
        [sys.executable, "-c", _REDUCE, str(ranks_file)], capture_output=True, text=True, cwd=REPO, check=True
    )
    reduce = json.loads(proc.stdout)
    shutil.rmtree(cache, ignore_errors=True)
    return {
        "ranks": len(files),
        "workers": workers,
        "failed": len(results) - len(good),
        "map_s": map_s,
        "worker_peak_mb": max((r.get("worker_peak_rss_mb") or 0) for r in good),
        "reduce_s": reduce["seconds"],
        "reduce_peak_mb": reduce["peak_mb"],
        "straggler": reduce["straggler"],
    }


def reduce_only(ranks: int, work: Path) -> dict:
    """The reduce over `ranks` ranks of per-rank tables derived from the 8 shared ranks' own (see the docstring)."""
    import duckdb

    from inferscope.fleet.run import map_ranks

    cache = work / "cache-shared-8"
    base = [r for r in map_ranks(sorted(SOURCE.glob("*.json.gz")), cache, None, 2, lambda _m: None) if r["ok"]]
    out = work / f"tables-{ranks}"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    rng = random.Random(ranks)
    con = duckdb.connect()
    derived = []
    for r in range(ranks):
        src = base[r % len(base)]
        shift_ns = rng.randint(-JITTER_US, JITTER_US) * 1000
        tables = {}
        for name, path in src["tables"].items():
            target = out / f"{name}-{r}.parquet"
            shifted = ", ".join(
                f"{c} + {shift_ns} AS {c}"
                for c in ("start_ns", "end_ns", "window_start_ns", "window_end_ns")
                if c in [d[0] for d in con.execute(f"DESCRIBE SELECT * FROM read_parquet('{path}')").fetchall()]
            )
            con.execute(
                f"COPY (SELECT * REPLACE ({r} AS rank{', ' + shifted if shifted else ''}) FROM read_parquet('{path}')) "
                f"TO '{target}' (FORMAT parquet)"
            )
            tables[name] = str(target)
        identity = {**src["identity"], "rank": r, "world_size": ranks}
        derived.append({**src, "identity": identity, "tables": tables, "shown": f"derived-rank{r}"})
    ranks_file = work / "ranks.json"
    ranks_file.write_text(json.dumps(derived))
    proc = subprocess.run(
        [sys.executable, "-c", _REDUCE, str(ranks_file)], capture_output=True, text=True, cwd=REPO, check=True
    )
    shutil.rmtree(out, ignore_errors=True)
    return {"ranks": ranks, **json.loads(proc.stdout)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ranks", type=int, nargs="+", default=[64, 512])
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    ap.add_argument("--work", type=Path, default=Path("/tmp/inferscope-fleet-bench"))
    ap.add_argument("--reduce-only", type=int, nargs="+", metavar="N", help="measure only the reduce at N ranks")
    args = ap.parse_args()
    if args.reduce_only:
        print(f"{'ranks':>6} {'reduce s':>9} {'reduce peak MB':>15} {'straggler':>9}   (reduce only, derived tables)")
        for n in args.reduce_only:
            r = reduce_only(n, args.work)
            print(f"{r['ranks']:>6} {r['seconds']:>9.2f} {r['peak_mb']:>15.0f} {r['straggler']!s:>9}", flush=True)
        return
    print(
        f"{'ranks':>6} {'workers':>7} {'map s':>8} {'worker peak MB':>15} {'reduce s':>9} {'reduce peak MB':>15}"
        f" {'straggler':>9} {'load':>11}"
    )
    for n in args.ranks:
        files = build(n, args.work / f"ranks-{n}")
        for w in args.workers:
            load_before = os.getloadavg()[0]
            r = run(files, w, args.work)
            print(
                f"{r['ranks']:>6} {r['workers']:>7} {r['map_s']:>8.1f} {r['worker_peak_mb']:>15.0f} "
                f"{r['reduce_s']:>9.2f} {r['reduce_peak_mb']:>15.0f} {r['straggler']!s:>9}"
                f" {load_before:>5.1f}->{os.getloadavg()[0]:<5.1f}"
                + (f"  ({r['failed']} ranks failed)" if r["failed"] else ""),
                flush=True,
            )
    print(f"client peak MB {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}")


if __name__ == "__main__":
    main()
