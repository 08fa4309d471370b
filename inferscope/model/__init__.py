"""The InferScope trace model: the one place that says which tables exist, their columns and units.

Every ingest path (nsys SQLite / Arrow / Parquet exports, `.nsys-rep`, Kineto JSON, recorder bundles) produces
exactly these tables, and every SQL view, metric and rule reads only these tables. Keeping the contract here,
as data, lets the cache validate what it stores, lets `docs/trace-model.md` be generated, and lets a missing
source table become an empty table with the right columns instead of a special case downstream.

Conventions (all tables):
* Times are int64 nanoseconds on one timeline per trace: the trace's session timeline, whose zero is the
  session start (`trace_meta.session_start_utc_ns` gives its UTC wall time). Columns are named `*_ns`.
* Intervals carry `start_ns`, `end_ns` and `dur_ns` (= end_ns - start_ns) so that SQL never has to quote the
  reserved word END.
* `pid`/`tid` are the operating-system ids. GPU activity carries the `pid` of the process that launched it.
* Names are resolved strings (no string-id indirection), so Parquet dictionary encoding keeps them small.
* Sizes are bytes (`*_bytes` or `bytes`). Enumerations are stored both as the raw code and as a label.

Bump MODEL_VERSION whenever a table or column changes meaning: it is part of the cache key.

The tables are declared in `tables.py`, the casts that hold ingest results to them in `arrow.py`; this package
is the ground every stage stands on and imports only `inferscope.errors`.
"""

from __future__ import annotations

from .arrow import conform, empty_table, plain
from .tables import BOOL, F64, I64, STR, TABLE_BY_NAME, TABLES, Column, Table

__all__ = [
    "BOOL",
    "F64",
    "I64",
    "MODEL_VERSION",
    "STR",
    "TABLES",
    "TABLE_BY_NAME",
    "Column",
    "Table",
    "conform",
    "empty_table",
    "markdown",
    "plain",
]

MODEL_VERSION = "12"


def markdown() -> str:
    """The model as Markdown (docs/trace-model.md is generated from this)."""
    out = [
        "# InferScope trace model",
        "",
        f"Model version {MODEL_VERSION}.",
        "",
        __doc__.split("\n\n", 1)[1].rsplit("\n\n", 1)[0] + "\n",
        "",
    ]
    for t in TABLES:
        out += [f"## `{t.name}`", "", t.doc, "", "| column | type | meaning |", "|---|---|---|"]
        out += [f"| `{c.name}` | {c.type} | {c.doc} |" for c in t.columns]
        out.append("")
    return "\n".join(out)
