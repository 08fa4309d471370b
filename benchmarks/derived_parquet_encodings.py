"""Parquet settings for the stored derived tables, side by side: write time, read-back time and size.

Reads the derived tables stored in a cache entry (run `inferscope analyze` on a trace first) and writes each with
DuckDB under every setting, twice, as engine/derived_tables.py would.

    python benchmarks/derived_parquet_encodings.py CACHE_ENTRY/derived/KEY
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import duckdb

SETTINGS = {
    "v1 zstd (before)": "FORMAT parquet, COMPRESSION zstd",
    "v1 zstd, no dictionary": "FORMAT parquet, COMPRESSION zstd, DICTIONARY_SIZE_LIMIT 1",
    "v2 zstd (now)": "FORMAT parquet, COMPRESSION zstd, PARQUET_VERSION V2",
    "v2 lz4": "FORMAT parquet, COMPRESSION lz4_raw, PARQUET_VERSION V2",
}


def main() -> None:
    folder = Path(sys.argv[1])
    con = duckdb.connect()
    names = []
    for f in sorted(folder.glob("*.parquet")):
        if f.stat().st_size > 1 << 20:  # the tables that cost anything
            names.append(f.stem)
            con.execute(f"CREATE TABLE {f.stem} AS SELECT * FROM read_parquet('{f}')")
    rows = sum(con.execute(f"SELECT count(*) FROM {n}").fetchone()[0] for n in names)
    print(f"{len(names)} tables, {rows:,} rows, duckdb {duckdb.__version__}")
    out = Path(tempfile.mkdtemp())
    for rep in (1, 2):
        for label, setting in SETTINGS.items():
            write = read = 0.0
            size = 0
            for n in names:
                p = out / f"{n}.parquet"
                t = time.perf_counter()
                con.execute(f"COPY {n} TO '{p}' ({setting})")
                write += time.perf_counter() - t
                size += p.stat().st_size
                t = time.perf_counter()
                con.execute(f"CREATE OR REPLACE TEMP TABLE back AS SELECT * FROM read_parquet('{p}')")
                read += time.perf_counter() - t
            print(f"run {rep}  {label:24s} write {write:5.2f} s  read {read:5.2f} s  {size / 2**20:6.1f} MB")


if __name__ == "__main__":
    main()
