"""Where an `inferscope analyze` spends its time: each derived view's materialisation, the metrics, the rules.

The analysis is run as the CLI runs it (`Trace.analyze`), with the connection's statements timed from outside, so
the figures are those of the code as it is, not of an instrumented copy. Run it twice on a large trace with the
same --cache-dir: the first run converts (cold), the second is what a warm `analyze` costs.

    python benchmarks/analyze_stages.py TRACE --cache-dir DIR [--top 25]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("trace", type=Path)
    ap.add_argument("--cache-dir", type=Path, required=True)
    ap.add_argument("--top", type=int, default=25)
    args = ap.parse_args()

    t0 = time.perf_counter()
    import inferscope
    from inferscope.analyze import metrics as metrics_mod
    from inferscope.analyze import rule_findings

    t_import = time.perf_counter() - t0
    t = time.perf_counter()
    trace = inferscope.open(args.trace, cache_dir=args.cache_dir)
    con = trace.engine.con
    t_open = time.perf_counter() - t

    stage = ["other"]
    per_view: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])  # wall, CPU (all threads)
    per_stage: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])

    def timed(acc_for, fn):
        def wrapped(*a, **kw):
            s, c = time.perf_counter(), time.process_time()
            try:
                return fn(*a, **kw)
            finally:
                for acc in acc_for(*a, **kw):
                    acc[0] += time.perf_counter() - s
                    acc[1] += time.process_time() - c

        return wrapped

    # each derived table: made by Engine.create_table, or by the interval sweep (which makes its own empty table)
    engine = trace.engine
    sweeping = [False]
    create_table = engine.create_table

    def view_accs(name, *a, **kw):
        return () if sweeping[0] else (per_view[name], per_stage["derived tables"])

    engine.create_table = timed(view_accs, create_table)
    from inferscope.analyze import interval_union

    materialize = interval_union.materialize

    def sweep(eng, name):
        sweeping[0] = True
        try:
            return materialize(eng, name)
        finally:
            sweeping[0] = False

    interval_union.materialize = timed(lambda eng, name: (per_view[name], per_stage["derived tables"]), sweep)
    execute = con.execute

    def timed_execute(sql, *a, **kw):
        s, c = time.perf_counter(), time.process_time()
        out = execute(sql, *a, **kw)
        acc = per_stage[stage[0]]
        acc[0] += time.perf_counter() - s
        acc[1] += time.process_time() - c
        return out

    con.execute = timed_execute

    def in_stage(name, fn):
        def wrapped(*a, **kw):
            stage[0] = name
            s, c = time.perf_counter(), time.process_time()
            try:
                return fn(*a, **kw)
            finally:
                acc = per_stage[name]
                acc[0] += time.perf_counter() - s
                acc[1] += time.process_time() - c
                stage[0] = "other"

        return wrapped

    try:  # where derived tables are stored with the cache: reading and writing them
        from inferscope.engine import derived_tables

        derived_tables.load = in_stage("derived tables: read stored", derived_tables.load)
        derived_tables.save = in_stage("derived tables: store", derived_tables.save)
    except ImportError:
        pass
    try:  # metrics and rules, spread over connections
        from inferscope.analyze import query_workers

        query_workers.run = in_stage("metrics and rules", query_workers.run)
    except ImportError:
        metrics_mod.compute = in_stage("metrics", metrics_mod.compute)
        rule_findings.run_all = in_stage("rules", rule_findings.run_all)
        from inferscope.analyze import rules as rules_mod

        if getattr(rules_mod, "run_all", None) is not None:
            rules_mod.run_all = rule_findings.run_all
    t, c = time.perf_counter(), time.process_time()
    trace.analyze()
    t_analyze, c_analyze = time.perf_counter() - t, time.process_time() - c
    print(f"import {t_import:.2f} s, open {t_open:.2f} s, analyze {t_analyze:.2f} s wall, {c_analyze:.2f} s CPU")
    print(f"  {'stage':32s} {'wall':>8s} {'CPU':>8s}")
    for name, (dt, dc) in sorted(per_stage.items(), key=lambda kv: -kv[1][1]):
        print(f"  {name:32s} {dt:7.2f}s {dc:7.2f}s")
    print("derived tables, most CPU first (CPU of every thread while each was made):")
    for name, (dt, dc) in sorted(per_view.items(), key=lambda kv: -kv[1][1])[: args.top]:
        print(f"  {name:32s} {dt:7.2f}s {dc:7.2f}s")


if __name__ == "__main__":
    main()
