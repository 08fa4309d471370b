"""`inferscope query` and `inferscope stats`: SQL and nsys-compatible summaries over the trace model."""
from __future__ import annotations

from typing import Annotated, Optional

import typer

from ._common import CacheDirOpt, NoCacheOpt, TraceArg, app, open_trace, print_table

FormatOpt = Annotated[str, typer.Option("--format", "-f", help="table, csv or json.")]


@app.command()
def query(
    trace: TraceArg,
    sql: Annotated[str, typer.Argument(help="DuckDB SQL over the model tables and views.", show_default=False)],
    format: FormatOpt = "table",
    cache_dir: CacheDirOpt = None,
    no_cache: NoCacheOpt = False,
) -> None:
    """Run SQL over a trace.

    Example: inferscope query trace.sqlite "SELECT name, count(*) FROM kernels GROUP BY 1 ORDER BY 2 DESC LIMIT 5"
    """
    t = open_trace(trace, cache_dir, no_cache)
    print_table(t.rows(sql), format)


@app.command()
def stats(
    trace: TraceArg,
    report: Annotated[Optional[list[str]], typer.Option("--report", "-r", help="Report name (repeatable; "
                      "default: all seven). nsys 2022.4 names are accepted.")] = None,
    format: FormatOpt = "table",
    cache_dir: CacheDirOpt = None,
    no_cache: NoCacheOpt = False,
) -> None:
    """nsys-compatible summary reports (cuda_api_sum, cuda_gpu_kern_sum, ...), computed with DuckDB.

    Example: inferscope stats trace.nsys-rep -r cuda_gpu_kern_sum -f csv
    """
    from ..stats import DEFAULT_REPORTS, resolve

    names = [resolve(r) for r in (report or DEFAULT_REPORTS)]
    t = open_trace(trace, cache_dir, no_cache)
    results = [t.stats(n) for n in names]
    if format == "json" and len(results) > 1:
        import json
        import sys

        sys.stdout.write(json.dumps({r.report: r.rows() for r in results}, indent=1, default=str) + "\n")
        return
    for r in results:
        if len(results) > 1 and format != "table":
            typer.echo(f"# {r.report}")
        print_table(r.result, format, title=r.report)
