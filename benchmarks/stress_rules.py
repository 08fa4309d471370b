"""Run each rule's, metric file's and stats report's SQL over and over on one trace, counting the runs DuckDB fails.

Why: DuckDB 1.4.x, the oldest releases pyproject.toml admits, has rare internal errors ("Attempted to access index
1 within vector of size 1") that invalidate the whole database. They show up as a CI floor run that fails once in
several, never as a test that fails when run alone. The one found so far (`launch_overhead`'s `sum() OVER ()` over
its final join) failed about once in 300 runs of the rule; a full analysis runs thirty rules, so the suite hit it
now and then. This script finds such a statement by brute force: each file runs for `--seconds`, and after a
failure the trace is opened again (the old database is unusable).

    python benchmarks/stress_rules.py TRACE [--seconds 6] [FILE.sql ...]

Run it under the interpreter whose DuckDB is in question (e.g. CI's floor venv). Without FILEs it takes every
built-in rule, metric file and stats report. Prints one line per file: runs, failures, the first error.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import duckdb  # noqa: E402

import inferscope  # noqa: E402
from inferscope.analyze import prepare, rule_files  # noqa: E402


def statement(path: Path) -> tuple[str, dict | None]:
    """The SQL and, for a rule, its default parameters."""
    if path.parent.name == "rules":
        rule = rule_files.load(path, builtin=True)
        values = rule_files.resolve_params([rule], None)[rule.id]
        return rule.sql, {k: values[k] for k in rule.used_params()} or None
    return path.read_text(encoding="utf-8"), None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("trace", type=Path)
    ap.add_argument("files", nargs="*", type=Path)
    ap.add_argument("--seconds", type=float, default=6.0, help="time spent on each file")
    args = ap.parse_intermixed_args()
    sql_root = HERE.parent / "sql"
    files = args.files or [f for d in ("rules", "metrics", "stats") for f in sorted((sql_root / d).glob("*.sql"))]
    cache = tempfile.mkdtemp(prefix="stress-rules-")

    def fresh():
        t = inferscope.open(args.trace, cache_dir=cache)
        prepare(t)  # the analysis's materialised tables, stored and reloaded as a warm run does
        return t

    print(f"duckdb {duckdb.__version__}, {args.trace.name}, {args.seconds:g} s per file")
    t = fresh()
    total_bad = 0
    for f in files:
        sql, params = statement(f)
        runs = bad = 0
        first = ""
        start = time.perf_counter()
        while time.perf_counter() - start < args.seconds:
            try:
                t.engine.query(sql, params)
                runs += 1
            except Exception as exc:  # noqa: BLE001 - counting every kind of failure is the point
                bad += 1
                first = first or str(exc).splitlines()[0][:120]
                t = fresh()
        total_bad += bad
        print(f"{str(f)[-40:]:40s} runs {runs:6d}  failed {bad:3d}  {first}", flush=True)
    # A database DuckDB invalidated can crash the interpreter when it is torn down: leave without tearing down.
    sys.stdout.flush()
    os._exit(1 if total_bad else 0)


if __name__ == "__main__":
    main()
