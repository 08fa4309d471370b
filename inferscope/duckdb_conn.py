"""Every DuckDB connection InferScope opens, with a memory limit and a spill folder of its own.

An in-memory DuckDB spills sorts, joins and aggregates that outgrow its memory limit to `.tmp` in the current
directory: a large trace would write there, wherever the user happened to be, and a read-only working directory
turns the spill into an error. Connections made here spill into a private folder instead (under the cache when
there is one, so `inferscope cache clear` finds what a killed run left), which DuckDB creates on first need and
removes when the connection closes. `INFERSCOPE_MEMORY_LIMIT` (DuckDB's syntax: `4GB`, `512MB`, `60%`) caps what
one connection holds in memory; past it, work spills to disk and completes, slower.

The default (`default_memory_limit`) is 512 MB per DuckDB thread, at least 1 GB and at most DuckDB's own default
(80 % of physical memory). Most of what DuckDB holds past that is its cache of decoded Parquet pages, which it
keeps as long as the limit allows: on a 1M-kernel trace a warm analysis peaked at 3.3 GB under DuckDB's default
and at 1.2 GB under 1 GB, with the same findings and metrics, for 15 % more time (docs/performance.md). The
threads term keeps per-thread operator state (hash tables, sort runs) from crowding a large machine's cap.
"""

from __future__ import annotations

import os
import re
import tempfile
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import ConfigError, OutOfMemoryError

if TYPE_CHECKING:
    import pyarrow as pa

MEMORY_ENV = "INFERSCOPE_MEMORY_LIMIT"
SPILL_PREFIX = ".tmp-spill-"  # a `.tmp-*` name: the cache's stale-folder sweep removes what a killed run left
_LIMIT = re.compile(r"\s*(\d+(\.\d+)?)\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB|%)\s*", re.I)


def memory_limit() -> str | None:
    """The user's cap from INFERSCOPE_MEMORY_LIMIT, checked here so that a typo is one line, not a DuckDB error
    in the middle of a run."""
    raw = os.environ.get(MEMORY_ENV, "").strip()
    if not raw:
        return None
    m = _LIMIT.fullmatch(raw)
    if not m or float(m.group(1)) <= 0 or (m.group(3) == "%" and float(m.group(1)) > 100):
        raise ConfigError(
            f"{MEMORY_ENV}={raw!r}: give a size such as 4GB or 512MB, or a share of physical memory such as 60%"
        )
    return raw


def out_of_memory(exc: Exception, where: str) -> OutOfMemoryError:
    """The one line for DuckDB's out-of-memory error: what ran out and what the user can change."""
    limit = os.environ.get(MEMORY_ENV, "").strip()
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if limit:
        advice = f"raise {MEMORY_ENV} (now {limit}) or unset it"
    else:
        advice = (
            f"set {MEMORY_ENV} higher than its default (512MB per DuckDB thread, at least 1GB) or lower if the "
            "machine itself ran out, or analyse part of the trace (--window)"
        )
    return OutOfMemoryError(f"DuckDB ran out of memory in {where} ({first}): {advice}")


def spill_folder(parent: Path | None) -> Path:
    """A folder name no other connection uses, under `parent` (the cache root) or the system's temp folder."""
    base = parent if parent is not None and parent.is_dir() else Path(tempfile.gettempdir())
    return base / f"{SPILL_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}"


def connect(spill_parent: Path | None = None):
    """A DuckDB connection with the memory limit and spill folder above, and no progress bar (DuckDB draws it on
    stdout, where it would corrupt JSON and CSV output)."""
    import duckdb

    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    folder = str(spill_folder(spill_parent)).replace("'", "''")
    con.execute(f"SET temp_directory = '{folder}'")
    limit = memory_limit()
    if limit is None:
        limit = default_memory_limit(con.execute("SELECT current_setting('threads')").fetchone()[0])
    elif limit.endswith("%"):
        limit = _share_of_memory(float(limit[:-1]))
    if limit is not None:
        con.execute(f"SET memory_limit = '{limit}'")
    return con


DEFAULT_PER_THREAD = 512 << 20
DEFAULT_FLOOR = 1 << 30


def default_memory_limit(threads: int) -> str | None:
    """The cap when INFERSCOPE_MEMORY_LIMIT is unset (see the module docstring), as bytes; None where physical
    memory is unknown (DuckDB's default then stands)."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None
    wanted = max(DEFAULT_FLOOR, DEFAULT_PER_THREAD * max(int(threads), 1))
    return f"{min(wanted, int(total * 0.8))}B"


def _share_of_memory(percent: float) -> str:
    """A share of physical memory as a size: older DuckDB releases the bounds admit take sizes only."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # no sysconf (Windows): let DuckDB read the share itself
        return f"{percent:g}%"
    return f"{int(total * percent / 100)}B"


def arrow_reader(relation, batch_rows: int):
    """A streaming Arrow reader over a DuckDB relation: `to_arrow_reader` in newer DuckDB, `fetch_arrow_reader`
    before (the oldest release pyproject.toml admits has only the latter)."""
    method = getattr(relation, "to_arrow_reader", None) or relation.fetch_arrow_reader
    return method(batch_rows)


def registrable(table: "pa.Table") -> "pa.Table":
    """`table` as DuckDB may be handed it: a dictionary column with an empty dictionary in any chunk (every value
    NULL, as a model string column a trace does not fill is when converted in memory) decoded to plain values.
    DuckDB 1.4.4 crashes the process (a segmentation fault, no exception) when it groups such a column; `analyze
    -f md --no-cache` did, on the report's top ranges. DuckDB 2 reads it as it is."""
    import pyarrow as pa

    for i, field in enumerate(table.schema):
        if not pa.types.is_dictionary(field.type):
            continue
        column = table.column(i)
        if any(len(chunk.dictionary) == 0 for chunk in column.chunks):
            value_type = field.type.value_type
            table = table.set_column(i, pa.field(field.name, value_type, field.nullable), column.cast(value_type))
    return table
