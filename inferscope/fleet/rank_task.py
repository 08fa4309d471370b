"""One rank's share of a fleet analysis, run as a Dask task on whichever worker gets it.

The task receives a path, never the trace: the worker reads the trace from storage it shares with the client,
converts it into the Parquet cache (or finds it there) and runs the per-rank SQL of sql/fleet/rank/ over the
cached model, writing each result as Parquet into a folder inside the rank's cache entry. What goes back through
the scheduler is a small dict: the rank's identity, where its tables are, how long it took, or one line saying
why the rank could not be read. A bad rank therefore never fails the run; the client reports it and reduces the
others.

The per-rank folder is named after a digest of the per-rank SQL and of the rank and clock anchor written into the
rows, so a changed query rebuilds it, and two rank files with the same bytes (one cache entry, ranks told apart by
file name) do not share one rank's tables. It is written to a temporary name and renamed, so an interrupted task
leaves nothing half-written.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import time
from pathlib import Path

from ..errors import InferScopeError
from ..ingest.rank_identity import identify, peek
from ..resources import sql_dir

# per-rank table name -> its query (sql/fleet/rank/NAME.sql)
RANK_TABLES = ("rank_summary", "rank_collectives", "rank_before_arrival")


def _rank_sql() -> dict[str, str]:
    return {name: (sql_dir() / "fleet" / "rank" / f"{name}.sql").read_text(encoding="utf-8") for name in RANK_TABLES}


def tables_folder_name(queries: dict[str, str], params: dict) -> str:
    text = "\0".join([*(queries[n] for n in RANK_TABLES), *(f"{k}={params[k]}" for k in sorted(params))])
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    return f"fleet-{digest}"


def clock_anchor(meta: dict[str, str]) -> tuple[int, str]:
    """(ns to add to the rank's model times to put them on the shared wall clock, where that came from). The model
    keeps times relative to the trace's own zero; `session_start_utc_ns` is that zero in UTC (Kineto's epoch
    timestamps, nsys's session start). Without it the rank stays on its own clock ('none')."""
    value = meta.get("session_start_utc_ns")
    if value is not None and str(value).isdigit():
        return int(value), "session_start_utc_ns"
    return 0, "none"


def _write_tables(trace, folder: Path, queries: dict[str, str], params: dict) -> None:
    import pyarrow.parquet as pq

    tmp = Path(tempfile.mkdtemp(prefix=".tmp-fleet-", dir=folder.parent))
    try:
        for name in RANK_TABLES:
            pq.write_table(trace.engine.query(queries[name], params), tmp / f"{name}.parquet", compression="zstd")
        try:
            os.replace(tmp, folder)
        except OSError:
            if not folder.is_dir():  # not another worker's finished copy in the way
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _peak_rss_mb() -> float | None:
    """The worker process's peak resident memory so far (MB), for the scale benchmark; None where unknown."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    import sys

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1 << 20 if sys.platform == "darwin" else 1 << 10), 1)


def peek_rank(path: str) -> dict | None:
    """The first pass, on a worker: the rank identity readable without converting the trace (Kineto's
    distributedInfo, from the head of the file), as a dict, or None."""
    ident = peek(Path(path))
    return ident.to_dict() if ident is not None else None


def run_rank(path: str, cache_root: str) -> dict:
    """Convert and summarise the rank trace at `path` with the cache at `cache_root` (both as the worker sees
    them). Returns {"path", "ok", ...}: on success the identity, clock anchor and per-rank table paths, on a user
    error {"ok": False, "error": one line}."""
    from ..engine.trace import open_trace

    started = time.monotonic()
    p = Path(path)
    try:
        trace = open_trace(p, cache_dir=cache_root, progress=False)
        try:
            meta = trace.meta
            ident = identify(meta, p)
            anchor, anchor_source = clock_anchor(meta)
            queries = _rank_sql()
            params = {"rank": ident.rank if ident is not None else None, "anchor_ns": anchor}
            folder = trace.cache_entry / tables_folder_name(queries, params)
            # without a rank the set is refused before the reduce: nothing to write
            if ident is not None and not all((folder / f"{n}.parquet").is_file() for n in RANK_TABLES):
                _write_tables(trace, folder, queries, params)
            return {
                "path": path,
                "ok": True,
                "identity": ident.to_dict() if ident is not None else None,
                "format": trace.format,
                "anchor_ns": anchor,
                "anchor_source": anchor_source,
                "tables": {n: str(folder / f"{n}.parquet") for n in RANK_TABLES},
                "seconds": round(time.monotonic() - started, 3),
                "worker_pid": os.getpid(),
                "worker_peak_rss_mb": _peak_rss_mb(),
            }
        finally:
            trace.close()
    except InferScopeError as exc:
        return {"path": path, "ok": False, "error": str(exc).splitlines()[0] if str(exc) else type(exc).__name__}
    except Exception as exc:  # a bug or a file no reader expected: one rank's failure, reported with the others
        return {
            "path": path,
            "ok": False,
            "error": f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}",
        }
