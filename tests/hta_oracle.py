"""Helpers for the HTA parity tests: run Holistic Trace Analysis on a shared trace and put InferScope on the same
events HTA keeps, so both compute over the same data.

HTA, by default, keeps only CPU events that start before the last ProfilerStep and the GPU operations launched
by them (it drops the last step, issue #76, and anything launched after it). `hta_selection_engine` builds an
engine over the cached model tables whose kernels/memcpy/memset views apply that rule, so the differences left
are the documented ones (docs/kineto.md)."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path

from inferscope.engine.core import Engine

GPU_TABLES = ("kernels", "memcpy", "memset")


def run_hta(trace_file: Path):
    """TraceAnalysis on a temp dir holding a copy of the trace (HTA reads directories). ns traces are not
    rounded to whole µs (HTA_DISABLE_NS_ROUNDING=1): InferScope keeps the recorded ns."""
    os.environ["HTA_DISABLE_NS_ROUNDING"] = "1"
    logging.getLogger("hta").setLevel(logging.ERROR)
    from hta.trace_analysis import TraceAnalysis

    tmp = Path(tempfile.mkdtemp(prefix="hta-"))
    try:
        shutil.copy(trace_file, tmp / trace_file.name)
        return TraceAnalysis(trace_dir=str(tmp))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def hta_selection_engine(trace) -> Engine:
    """An engine over `trace`'s cache in which GPU tables hold only what HTA keeps by default."""
    engine = Engine(parquet_dir=trace.cache_entry)
    steps = engine.query(
        "SELECT count(DISTINCT name) AS n, max(start_ns) AS last FROM nvtx_ranges WHERE category = 'profiler_step'"
    ).to_pylist()[0]
    if steps["n"] > 1:
        for name in GPU_TABLES:
            file = str(trace.cache_entry / f"{name}.parquet").replace("'", "''")
            engine.con.execute(
                f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM read_parquet('{file}') g "
                f"WHERE g.correlation_id IN (SELECT correlation_id FROM api_calls WHERE start_ns < {steps['last']})"
            )
    return engine
