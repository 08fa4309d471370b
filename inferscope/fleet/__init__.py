"""Stage 4b, fleet: many ranks of one job, one trace each, analysed together (issue 23).

Each rank is converted and summarised where its trace lies, as a Dask task (`rank_task`): the trace goes into
the Parquet cache and three small per-rank tables (sql/fleet/rank/) are written beside its cache entry. Only
paths and a few numbers travel through the scheduler. The reduce (`reduce`) is DuckDB over those per-rank
Parquet files with the cross-rank views of sql/fleet/: per-rank step and GPU time, arrival skew at every
collective, the straggler and what it was doing, robust outliers, and the clock check.

May import ground, ingest, engine and analyze; comparison, render and the CLI sit above it. Dask is an optional
dependency (`pip install 'inferscope[fleet]'`), imported only when a fleet runs.
"""

from __future__ import annotations

from .result import FleetResult
from .run import analyze_fleet, expand_inputs

__all__ = ["FleetResult", "analyze_fleet", "expand_inputs"]
