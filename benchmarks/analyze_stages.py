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
    per_job: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])  # the metric files, rules and storing
    per_stage: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])

    # each derived table, metric file and rule: the wall time of its job, on whichever connection ran it (jobs
    # run side by side, so the CPU of the process is not one job's)
    from inferscope.analyze import query_workers

    graph_init = query_workers._Graph.__init__

    def timed_jobs(self, engine, jobs, cons):
        into = per_view if stage[0] == "derived tables" else per_job

        def timed(job):
            def make(con, _make=job.make, _name=job.name):
                s = time.perf_counter()
                try:
                    return _make(con)
                finally:
                    into[_name][0] += time.perf_counter() - s

            return query_workers.Job(job.name, make, job.after, job.own)

        graph_init(self, engine, [timed(j) for j in jobs], cons)

    query_workers._Graph.__init__ = timed_jobs
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
    query_workers.materialize = in_stage("derived tables", query_workers.materialize)
    labels: list[str] = []  # "task i" of query_workers.run, named: the metric files, the storing, each rule

    def named_run(engine, tasks, *a, **kw):
        labels[:] = [_task_label(t) for t in tasks]
        return run(engine, tasks, *a, **kw)

    try:  # metrics and rules, spread over connections
        run = query_workers.run
        query_workers.run = in_stage("metrics and rules", named_run)
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
    print("derived tables, longest first (wall time of each; they are made side by side):")
    for name, (dt, _) in sorted(per_view.items(), key=lambda kv: -kv[1][0])[: args.top]:
        print(f"  {name:32s} {dt:7.2f}s")
    if per_job:
        print("metric files, rules and storing, longest first (wall time of each, side by side):")
        for name, (dt, _) in sorted(per_job.items(), key=lambda kv: -kv[1][0])[: args.top]:
            index = int(name.split()[-1]) if name.startswith("task ") else -1
            print(f"  {labels[index] if 0 <= index < len(labels) else name:32s} {dt:7.2f}s")


def _task_label(task) -> str:
    rule = getattr(task, "keywords", {}).get("rule")
    if rule is not None:
        return f"rule {rule.id}"
    name = getattr(task, "__name__", "")
    return "metric files" if name == "compute" else "storing derived tables" if name else "task"


if __name__ == "__main__":
    main()
