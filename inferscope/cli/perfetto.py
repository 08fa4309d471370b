"""`inferscope export-perfetto`: the trace (and its findings) as Chrome-trace JSON for ui.perfetto.dev."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ._common import (
    CacheDirOpt,
    NoCacheOpt,
    OutAliasOpt,
    TraceArg,
    app,
    fail,
    open_trace,
    output_or_alias,
    usage_error,
)


@app.command("export-perfetto")
def export_perfetto(
    ctx: typer.Context,
    trace: TraceArg,
    output: Annotated[
        Optional[Path],
        typer.Option("--output", "-o", metavar="FILE", help="JSON file to write (required).", show_default=False),
    ] = None,
    findings: Annotated[
        bool, typer.Option("--findings/--no-findings", help="Run the analysis and add its findings as their own track.")
    ] = True,
    window: Annotated[
        Optional[str],
        typer.Option(
            "--window",
            help="Only START:END ms since the first GPU "
            "activity (the report's timeline axis), e.g. 100:250, :500, 800:.",
            metavar="START:END",
            show_default=False,
        ),
    ] = None,
    cache_dir: CacheDirOpt = None,
    no_cache: NoCacheOpt = False,
    out: OutAliasOpt = None,
) -> None:
    """Write a Chrome-trace JSON file that ui.perfetto.dev opens: GPU streams, API calls, NVTX, CPU samples, findings.

    Example: inferscope export-perfetto trace.nsys-rep -o trace.json --window 100:250
    """
    output = output_or_alias(ctx, output, out)
    if output is None:  # not click's required=True: --out must still count
        usage_error(ctx, "Missing option '--output' / '-o'.")
    if output.suffix.lower() != ".json":  # one format only: a .pdf or .html name would hold JSON all the same
        shown = f"unknown suffix {output.suffix!r}" if output.suffix else "no suffix"
        fail(f"-o {output}: {shown}; export-perfetto writes Chrome-trace JSON, so end the name in .json")
    from ..outputs import say_written
    from ..render.perfetto import export_perfetto as _export
    from ..render.perfetto import parse_window

    window_ms = parse_window(window)
    t = open_trace(trace, cache_dir, no_cache)
    found = t.analyze().findings if findings else None
    say_written(_export(t, output.expanduser(), findings=found, window_ms=window_ms))
