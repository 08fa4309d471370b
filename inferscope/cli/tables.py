"""`inferscope query` and `inferscope stats`: SQL and nsys-compatible summaries over the trace model."""

from __future__ import annotations

from typing import Annotated, Optional

import typer
from typer.core import TyperCommand

from ._common import TABLE_LIMIT, CacheDirOpt, NoCacheOpt, TraceArg, app, fail, open_trace, print_table

FormatOpt = Annotated[str, typer.Option("--format", "-f", metavar="FORMAT", help="table, csv or json.")]
FORMATS = ("table", "csv", "json")
LimitOpt = Annotated[
    int,
    typer.Option(
        "--limit",
        min=0,
        metavar="N",
        help="Rows per table in table format (0: all); csv and json always have every row.",
    ),
]


def _check_format(fmt: str) -> None:
    """Before the trace is opened: a typo in -f should not cost a conversion of a large trace first."""
    if fmt not in FORMATS:
        fail(f"unknown format {fmt!r}; use {', '.join(FORMATS[:-1])} or {FORMATS[-1]}")


def report_names() -> tuple[list[str], list[str], dict[str, str]]:
    """(default reports, other reports, 2022.4 aliases) as inferscope.engine.stats defines them (it loads no DuckDB)."""
    from ..engine.stats import ALIASES, DEFAULT_REPORTS, available

    defaults = list(DEFAULT_REPORTS)
    return defaults, [n for n in available() if n not in defaults], dict(ALIASES)


class _StatsCommand(TyperCommand):
    """Adds the report names to the help when it is shown, so they come from inferscope.engine.stats and cannot go
    stale, without reading anything when the command merely runs."""

    def format_help(self, ctx, formatter):
        if not getattr(self, "_names_added", False):
            defaults, others, aliases = report_names()
            self.help = (self.help or "") + (
                f"\n\nReports (default: all of these): {', '.join(defaults)}."
                + (f"\n\nAlso available: {', '.join(others)}." if others else "")
                + (f"\n\nnsys 2022.4 names: {', '.join(sorted(aliases))}." if aliases else "")
            )
            self._names_added = True
        return super().format_help(ctx, formatter)


@app.command()
def query(
    trace: TraceArg,
    sql: Annotated[
        str, typer.Argument(metavar="SQL", help="DuckDB SQL over the model tables and views.", show_default=False)
    ],
    format: FormatOpt = "table",
    limit: LimitOpt = TABLE_LIMIT,
    cache_dir: CacheDirOpt = None,
    no_cache: NoCacheOpt = False,
) -> None:
    """Run SQL over a trace.

    Example: inferscope query trace.sqlite "SELECT name, count(*) FROM kernels GROUP BY 1 ORDER BY 2 DESC LIMIT 5"
    """
    from ..config import load_config

    _check_format(format)
    cfg = load_config()  # inferscope.toml's step/phase/communication/serving patterns, as `analyze` reads them
    t = open_trace(trace, cache_dir, no_cache)
    if cfg.step_patterns or cfg.phase_patterns or cfg.comm_patterns or cfg.serving_patterns:
        t.use_patterns(cfg.step_patterns, cfg.phase_patterns, cfg.comm_patterns, cfg.serving_patterns)
    print_table(t.rows(sql), format, limit=limit)


@app.command(cls=_StatsCommand)
def stats(
    trace: TraceArg,
    report: Annotated[
        Optional[list[str]],
        typer.Option(
            "--report",
            "-r",
            metavar="NAME",
            help="Report name (repeatable; default: all the default reports listed above).",
        ),
    ] = None,
    format: FormatOpt = "table",
    limit: LimitOpt = TABLE_LIMIT,
    cache_dir: CacheDirOpt = None,
    no_cache: NoCacheOpt = False,
) -> None:
    """nsys-compatible summary reports (cuda_api_sum, cuda_gpu_kern_sum, ...), computed with DuckDB.

    Example: inferscope stats trace.nsys-rep -r cuda_gpu_kern_sum -f csv
    """
    from ..engine.stats import DEFAULT_REPORTS, resolve

    _check_format(format)
    names = [resolve(r) for r in (report or DEFAULT_REPORTS)]
    t = open_trace(trace, cache_dir, no_cache)
    if format == "json" and len(names) > 1:
        import json
        import sys

        results = [t.stats(n) for n in names]
        sys.stdout.write(json.dumps({r.report: r.rows() for r in results}, indent=1, default=str) + "\n")
        return
    for n in names:  # written as the rows come; a terminal table keeps only the rows it shows
        if len(names) > 1 and format != "table":
            typer.echo(f"# {n}")
        rows = t.stats_stream(n)
        print_table(rows.head(limit) if format == "table" else rows, format, title=resolve(n), limit=limit)
