"""Derived tables stored with the cached model, so that a warm analysis reads its timeline instead of rebuilding it.

Why: on a 1M-kernel trace a warm `analyze` spent most of its time materialising the same derived views (busy
intervals, idle gaps and their causes, API<->GPU correlation, steps) that the previous run had already computed
from the same cached tables. Those tables are a pure function of

- the cached model tables (the entry they are stored in is keyed on the trace's bytes and the model version);
- the SQL that defines them (the text of every registered view file they read, transitively: an edited definition
  is never served stale);
- what the caller passes in (step, phase and communication patterns, the list of tables: `shape`);
- the window applied, and DuckDB variables a view may read (`getvariable`);
- the DuckDB version that computed them.

All of it is hashed into the key of a `derived/KEY/` folder inside the entry. A trace with attached rows (a
request file) is not stored: those rows are not part of the entry. The views stay the SQL surface; a stored table
is loaded as the same temporary table the analysis would have created, so every later query reads identical rows.

Parquet cannot hold HUGEINT (DuckDB writes it as DOUBLE, which loses digits), so such columns are written as
DECIMAL(38,0) and cast back; a table with any other column type that does not read back as written is not stored
at all. A folder is written under a temporary name and renamed into place; a damaged or unreadable one is ignored
and recomputed. Every failure to store (a read-only cache, a full disk) only costs the next run the time saved.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from .. import model
from .core import DERIVED

if TYPE_CHECKING:
    from .core import Engine

FOLDER = "derived"
FORMAT = "1"
MAX_VARIANTS = 8  # per entry: each set of patterns/window keeps one; the least recently written go first
_MANIFEST = "derived.json"
_LOSSLESS = {"HUGEINT": "DECIMAL(38,0)"}  # written as, read back with a cast
# Parquet's version 2 encodings: delta-packed integers suit these tables' timestamps and ids, which defeat the
# dictionary that version 1 tries first. On the 1M-kernel tables: written in 2.4 s instead of 3.1, read in 1.1 s
# instead of 1.5, 36 MB instead of 129 (benchmarks/results/derived_parquet_v2.txt). DuckDB 1.4.4 writes and reads it.
_PARQUET = "FORMAT parquet, COMPRESSION zstd, PARQUET_VERSION V2"


def key(engine: "Engine", shape: dict, tables: Iterable[str]) -> str | None:
    """The folder name for derived `tables` as `shape` and the engine's state make them; None when they must not be
    stored. Only the SQL files the tables read count (`Engine.defining_files`): views loaded beside them, such as
    compare's, do not change them, so `compare` reads the tables an `analyze` of the same trace stored, and the
    other way round, instead of computing and storing a second copy."""
    import duckdb

    if engine._attached:
        return None
    sql = hashlib.sha256()
    for f in engine.defining_files(tables):
        sql.update(json.dumps([f.path.name, f.text]).encode())
    variables = engine.raw.execute(
        "SELECT name, CAST(value AS VARCHAR) FROM duckdb_variables() ORDER BY name"
    ).fetchall()
    doc = {
        "format": FORMAT,
        "duckdb": duckdb.__version__,
        "model": model.MODEL_VERSION,
        "sql": sql.hexdigest(),
        "window": engine.window.to_dict() if engine.window is not None else None,
        "variables": variables,
        "shape": shape,
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()[:24]


def load(engine: "Engine", entry: Path | None, k: str | None, lazy: bool = False) -> list[str] | None:
    """Create the stored tables of folder `k` (`Engine.create_table`); their names, or None when nothing usable is
    stored (then nothing is left created).

    `lazy`: as temporary views over the stored files instead, read only by the queries that name them. An analysis
    reads most tables several times and wants them in memory; the queries after a stored analysis (a report's
    charts, a terminal's top kernels) read a few of them once, and loading all 22 cost 2.8 s at 1M kernels."""
    if entry is None or k is None:
        return None
    folder = entry / FOLDER / k
    try:
        manifest = json.loads((folder / _MANIFEST).read_text())
        tables = manifest["tables"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    created: list[str] = []
    try:
        for name, spec in tables.items():
            file = str(folder / f"{name}.parquet").replace("'", "''")
            cols = ", ".join(f'CAST("{c}" AS {t}) AS "{c}"' if t in _LOSSLESS else f'"{c}"' for c, t in spec["columns"])
            if lazy:
                engine.raw.execute(f"CREATE TEMP VIEW {name} AS SELECT {cols} FROM read_parquet('{file}')")
            else:
                engine.create_table(name, f"SELECT {cols} FROM read_parquet('{file}')", prepare=False)
            created.append(name)
            # a view's count reads the footer alone only when counted from the file (its casts are evaluated)
            counted = f"read_parquet('{file}')" if lazy else f"{DERIVED}.{name}"
            n = engine.raw.execute(f"SELECT count(*) FROM {counted}").fetchall()[0][0]
            if n != spec["rows"]:
                raise ValueError(f"{name}: {n} rows, {spec['rows']} stored")
        return created
    except _fatal():  # DuckDB closed the database: nothing later can run, so this error is the one to report
        raise
    except Exception:  # damaged or partly deleted: recompute, and let the next save store it whole again
        engine.drop_temporary(created)
        shutil.rmtree(folder, ignore_errors=True)
        return None


def _fatal() -> type:
    """DuckDB's error for a database it has invalidated: storing is optional, but swallowing this one hid the
    real failure behind 'database has been invalidated' on the next query."""
    import duckdb

    return duckdb.FatalException


def save(engine: "Engine", entry: Path | None, k: str | None, names: Iterable[str], con=None) -> bool:
    """Store the tables `names` that `Engine.create_table` made, under folder `k`; whether they were stored. `con`:
    a worker connection (`Engine.worker`) to write them from, beside other queries on the engine's own."""
    if entry is None or k is None:
        return False
    con = engine.raw if con is None else con
    present = engine.created_tables(con)
    names = [n for n in names if n in present]
    parent = entry / FOLDER
    try:
        parent.mkdir(exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=parent))
    except OSError:
        return False
    try:
        tables = {}
        for name in names:
            columns = [(r[0], r[1]) for r in con.execute(f"DESCRIBE {DERIVED}.{name}").fetchall()]
            file = tmp / f"{name}.parquet"
            sel = ", ".join(
                f'CAST("{c}" AS {_LOSSLESS[t]}) AS "{c}"' if t in _LOSSLESS else f'"{c}"' for c, t in columns
            )
            path = str(file).replace("'", "''")
            con.execute(f"COPY (SELECT {sel} FROM {DERIVED}.{name}) TO '{path}' ({_PARQUET})")
            back = [(r[0], r[1]) for r in con.execute(f"DESCRIBE SELECT * FROM read_parquet('{path}')").fetchall()]
            if back != [(c, _LOSSLESS.get(t, t)) for c, t in columns]:
                raise ValueError(f"{name}: a column type does not survive Parquet")
            rows = con.execute(f"SELECT count(*) FROM {DERIVED}.{name}").fetchall()[0][0]
            tables[name] = {"columns": columns, "rows": rows}
        (tmp / _MANIFEST).write_text(json.dumps({"created": time.time(), "tables": tables}, indent=1))
        try:
            os.replace(tmp, parent / k)
        except OSError:  # another run stored the same key first: theirs is as good
            shutil.rmtree(tmp, ignore_errors=True)
        evict(parent, MAX_VARIANTS)
        return True
    except _fatal():
        raise
    except Exception:
        shutil.rmtree(tmp, ignore_errors=True)
        return False


def evict(parent: Path, keep: int) -> None:
    """Keep the `keep` most recently written folders of `parent` (and leftovers of killed runs younger than an
    hour); the stored analyses (analyze/stored_analysis.py) are evicted the same way."""
    now = time.time()
    found = []
    for d in parent.iterdir():
        try:
            mtime = d.stat().st_mtime
        except OSError:
            continue
        if d.name.startswith(".tmp-"):
            if now - mtime > 3600:
                shutil.rmtree(d, ignore_errors=True)
        else:
            found.append((mtime, d))
    for _, d in sorted(found, reverse=True)[keep:]:
        shutil.rmtree(d, ignore_errors=True)
