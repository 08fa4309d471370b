"""The cold path's two choices, measured on one large export (issue 21): how to read nsys SQLite, and how to store
the converted model.

Readers, per raw table (the columns the conversion asks for, `inferscope.ingest.nsys_raw.RAW_COLUMNS`), each in
a fresh process with its wall time, CPU time and peak RSS:

- `adbc`: ADBC's SQLite driver, one connection, the whole table as Arrow;
- `adbc x2` (the product's `SqliteReader`): two rowid slices on two connections at once (ADBC releases the GIL);
- `sqlite3`: Python's sqlite3 `fetchall`, then Arrow (the product's fallback);
- `duckdb sqlite_scan`: DuckDB's SQLite scanner to Arrow. It is an extension DuckDB downloads at run time, which
  offline machines cannot; PyPI's `duckdb-ext-sqlite` carries it for DuckDB 1.4.4 only, so this row runs in the
  interpreter given by --duckdb-python (one with duckdb 1.4.4 and duckdb-ext-sqlite installed) and is skipped
  without it.

Cache formats, on the model tables converted from the same export (kernels, api_calls, nvtx_ranges): write time
and size of Parquet with each codec (zstd, the product's; snappy; lz4; none) and of one DuckDB database file,
then a warm-path query over each (GPU time per kernel name, NVTX time per name: a full scan of the columns the
views read), timed in DuckDB.

    python benchmarks/bench_readers.py --trace TILED.sqlite [--duckdb-python /path/to/python] [--work DIR]
        [--only readers|formats]

benchmarks/side_by_side.py writes the x300 tile (`h100_x300.sqlite` in its --work folder).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from harness import REPO, repo_env, timed  # noqa: E402

TABLES = ("CUPTI_ACTIVITY_KIND_KERNEL", "CUPTI_ACTIVITY_KIND_RUNTIME", "NVTX_EVENTS")

_READ = r"""
import sys, time
sys.path.insert(0, sys.argv[4])
how, path, table = sys.argv[1], sys.argv[2], sys.argv[3]
from inferscope.ingest import adbc_sqlite
from inferscope.ingest.nsys_raw import RAW_COLUMNS, SqliteReader, _read_table, _sqlite3_connect
t = time.perf_counter()
uri = f"file:{path}?mode=ro&immutable=1"
con = _sqlite3_connect(uri)
have = {r[1] for r in con.execute(f'PRAGMA table_info("{table}")')}
cols = [c for c in RAW_COLUMNS[table] if c in have]
sql = "SELECT " + ", ".join(f'"{c}"' for c in cols) + f' FROM "{table}"'
if how == "adbc":
    out = _read_table(con, adbc_sqlite.connect(uri), sql, cols, path)
elif how == "adbc x2":
    out = SqliteReader(path)(table)
elif how == "sqlite3":
    out = _read_table(con, None, sql, cols, path)
else:
    import duckdb
    d = duckdb.connect()
    d.execute(f"LOAD '{sys.argv[5]}'")
    out = d.sql(f"SELECT {', '.join(chr(34) + c + chr(34) for c in cols)} FROM sqlite_scan('{path}', '{table}')").fetch_arrow_table()
open(sys.argv[6], "w").write(f"{out.num_rows} {time.perf_counter() - t:.2f}")
"""

_MODEL_TABLES = ("kernels", "api_calls", "nvtx_ranges")
_QUERIES = {
    "GPU time per kernel name": "SELECT name, sum(end_ns - start_ns) FROM kernels GROUP BY name",
    "NVTX time per name": "SELECT name, sum(end_ns - start_ns), count(*) FROM nvtx_ranges GROUP BY name",
    "API calls per thread": "SELECT tid, count(*), sum(end_ns - start_ns) FROM api_calls GROUP BY tid",
}


def scanner_path(python: str) -> str | None:
    """The sqlite_scanner extension file that duckdb-ext-sqlite installed for `python`, or None."""
    probe = (
        "import importlib.util, pathlib; s = importlib.util.find_spec('duckdb_ext'); "
        "print(next(iter(pathlib.Path(list(s.submodule_search_locations)[0]).rglob('sqlite_scanner.duckdb_extension')), ''))"
    )
    r = subprocess.run([python, "-c", probe], capture_output=True, text=True)
    return r.stdout.strip() or None


def readers(trace: Path, duckdb_python: str | None, env: dict) -> None:
    print(f"\n== readers: {trace.name} ({trace.stat().st_size / 1e6:.0f} MB)")
    print(f"  {'table':<30}{'reader':<22}{'rows':>11}{'wall':>8}{'CPU':>8}{'peak RSS':>10}")
    ext = scanner_path(duckdb_python) if duckdb_python else None
    for table in TABLES:
        for how in ("adbc", "adbc x2", "sqlite3", "duckdb sqlite_scan"):
            python = sys.executable
            if how == "duckdb sqlite_scan":
                if ext is None:
                    print(f"  {table:<30}{how:<22}  skipped: no --duckdb-python with duckdb-ext-sqlite")
                    continue
                python = duckdb_python
            out = Path(tempfile.mkstemp(suffix=".out")[1])
            cmd = [python, "-c", _READ, how, str(trace), table, str(REPO), ext or "", str(out)]
            wall, rss, cpu = timed(cmd, env)
            rows = f"{int(out.read_text().split()[0]):,}" if out.read_text().strip() else "failed"
            out.unlink()
            print(f"  {table:<30}{how:<22}{rows:>11}{wall:>7.1f}s{cpu:>7.1f}s{rss:>8,}MB", flush=True)


def formats(trace: Path, work: Path, env: dict) -> None:
    import duckdb

    cache = work / "cache"
    subprocess.run(
        [sys.executable, "-m", "inferscope", "query", str(trace), "--cache-dir", str(cache), "SELECT 1"],
        env=env,
        cwd=REPO,
        check=True,
        capture_output=True,
    )
    (entry,) = [p.parent for p in cache.glob("*/kernels.parquet")]
    print(f"\n== cache formats: the model of {trace.name} ({', '.join(_MODEL_TABLES)})")
    print(f"  {'format':<22}{'write':>8}{'size':>10}" + "".join(f"{q[:24]:>26}" for q in _QUERIES))
    import pyarrow.parquet as pq

    tables = {t: pq.read_table(entry / f"{t}.parquet") for t in _MODEL_TABLES}
    for codec in ("zstd", "snappy", "lz4", "none", "duckdb file"):
        out = work / f"fmt-{codec.replace(' ', '-')}"
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir()
        t = time.perf_counter()
        if codec == "duckdb file":
            db = duckdb.connect(str(out / "model.duckdb"))
            for name, table in tables.items():
                db.register("src", table)
                db.execute(f"CREATE TABLE {name} AS SELECT * FROM src")
                db.unregister("src")
            db.close()
        else:
            for name, table in tables.items():
                pq.write_table(table, out / f"{name}.parquet", compression=codec)
        write_s = time.perf_counter() - t
        size = sum(f.stat().st_size for f in out.iterdir()) / 1e6
        q = duckdb.connect(str(out / "model.duckdb"), read_only=True) if codec == "duckdb file" else duckdb.connect()
        if codec != "duckdb file":
            for name in tables:
                q.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{out / f'{name}.parquet'}')")
        times = []
        for sql in _QUERIES.values():
            best = min(_once(q, sql) for _ in range(3))
            times.append(best)
        q.close()
        print(f"  {codec:<22}{write_s:>7.1f}s{size:>8.0f}MB" + "".join(f"{s:>25.2f}s" for s in times), flush=True)
        shutil.rmtree(out, ignore_errors=True)
    shutil.rmtree(cache, ignore_errors=True)


def _once(con, sql: str) -> float:
    t = time.perf_counter()
    con.sql(sql).fetchall()
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trace", type=Path, required=True)
    ap.add_argument("--duckdb-python", help="an interpreter with duckdb 1.4.4 and duckdb-ext-sqlite")
    ap.add_argument("--work", type=Path, default=None)
    ap.add_argument("--only", choices=("readers", "formats"))
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="inferscope-readers-"))
    work.mkdir(parents=True, exist_ok=True)
    env = repo_env()
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; {json.dumps(str(args.trace))}")
    if args.only != "formats":
        readers(args.trace, args.duckdb_python, env)
    if args.only != "readers":
        formats(args.trace, work, env)
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
