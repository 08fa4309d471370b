"""Tile a real nsys SQLite export into a large one for benchmarks.

Rows of the activity tables are replicated N times, each copy shifted in time by the trace's span and with
correlation ids offset so API<->GPU joins stay one-to-one. The schema is untouched, so `nsys stats` and
`nsys analyze` read the result like any export.

    python benchmarks/tile_nsys.py SRC.sqlite OUT.sqlite --kernels 1000000
"""

from __future__ import annotations

import argparse
import math
import shutil
import sqlite3
import time
from pathlib import Path

TILED = (
    "CUPTI_ACTIVITY_KIND_KERNEL",
    "CUPTI_ACTIVITY_KIND_RUNTIME",
    "CUPTI_ACTIVITY_KIND_MEMCPY",
    "CUPTI_ACTIVITY_KIND_MEMSET",
    "CUPTI_ACTIVITY_KIND_SYNCHRONIZATION",
    "NVTX_EVENTS",
    "OSRT_API",
    "PROFILER_OVERHEAD",
)


def append_copies(
    con: sqlite3.Connection,
    tables: list[str],
    copies: int,
    span: int,
    max_corr: int,
    time_columns: tuple[str, ...] = ("start", "end"),
    copy_major: bool = False,
) -> None:
    """Append copies 1..copies-1 of every row of `tables`, copy i shifted by i * span on `time_columns` and given
    correlation ids of its own, and commit. Rows go in row by row (each row's copies together) or, with
    `copy_major`, copy by copy, which keeps a table stored in time order in time order (as nsys writes
    GPU_METRICS)."""
    con.execute("CREATE TEMP TABLE k(i INTEGER)")
    con.executemany("INSERT INTO k VALUES (?)", [(i,) for i in range(1, copies)])
    for t in tables:
        cols = [r[1] for r in con.execute(f'PRAGMA table_info("{t}")')]
        exprs = []
        for c in cols:
            if c in time_columns:
                exprs.append(f'"{c}" + k.i * {span}')
            elif c == "correlationId":
                exprs.append(f"correlationId + k.i * {max_corr + 1}")
            elif c == "eventId" and t == "NVTX_EVENTS":
                exprs.append("NULL")  # INTEGER PRIMARY KEY in newer schemas: let SQLite assign
            else:
                exprs.append(f'"{c}"')
        names = ", ".join(f'"{c}"' for c in cols)
        source = f'k CROSS JOIN "{t}"' if copy_major else f'"{t}" CROSS JOIN k'  # SQLite keeps CROSS JOIN order
        con.execute(f'INSERT INTO "{t}" ({names}) SELECT {", ".join(exprs)} FROM {source}')
    con.commit()


def tile(src: Path, out: Path, kernels: int) -> dict:
    shutil.copy(src, out)
    con = sqlite3.connect(out)
    present = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    tables = [t for t in TILED if t in present]
    lo, hi, max_corr = 0, 0, 0
    for t in tables:
        a, b = con.execute(f'SELECT min(start), max(coalesce("end", start)) FROM {t} WHERE start > 0').fetchone()
        if a is not None:
            lo = min(lo, a) if lo else a
            hi = max(hi, b)
        cols = [r[1] for r in con.execute(f"PRAGMA table_info({t})")]
        if "correlationId" in cols:
            max_corr = max(max_corr, con.execute(f"SELECT coalesce(max(correlationId), 0) FROM {t}").fetchone()[0])
    span = hi - lo + 1_000
    base_kernels = con.execute("SELECT count(*) FROM CUPTI_ACTIVITY_KIND_KERNEL").fetchone()[0]
    copies = max(1, math.ceil(kernels / base_kernels))
    append_copies(con, tables, copies, span, max_corr)
    counts = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}
    con.execute("VACUUM")
    con.close()
    return {"copies": copies, "span_ns": span, "rows": counts}


def to_arrow_streams(sqlite: Path, out: Path) -> int:
    """Write every table of an nsys SQLite export as one Arrow IPC stream after another, the table name in the
    schema metadata: the layout of `nsys export --type arrow`, which the local nsys cannot produce from a
    .sqlite. Returns the number of tables written."""
    import adbc_driver_sqlite.dbapi as adbc
    import pyarrow as pa

    con = adbc.connect(f"file:{sqlite}?mode=ro&immutable=1")
    listing = sqlite3.connect(sqlite)
    names = [r[0] for r in listing.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    listing.close()
    tmp = out.with_name(out.name + ".part")
    with open(tmp, "wb") as f:
        for name in names:
            cur = con.cursor()
            cur.execute(f'SELECT * FROM "{name}"')
            table = cur.fetch_arrow_table().replace_schema_metadata({"table_name": name})
            cur.close()
            with pa.ipc.new_stream(f, table.schema) as writer:
                writer.write_table(table)
    con.close()
    tmp.rename(out)
    return len(names)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("src", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--kernels", type=int, default=1_000_000, help="target number of kernel rows")
    args = ap.parse_args()
    t0 = time.perf_counter()
    info = tile(args.src, args.out, args.kernels)
    print(
        f"tiled {args.src.name} x{info['copies']} -> {args.out} ({args.out.stat().st_size / 1e6:.0f} MB) "
        f"in {time.perf_counter() - t0:.1f} s"
    )
    for t, n in info["rows"].items():
        print(f"  {t:40s} {n:>12,}")


if __name__ == "__main__":
    main()
