"""`inferscope export-perfetto`: the trace (and its findings) as Chrome-trace JSON for ui.perfetto.dev."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ._common import CacheDirOpt, NoCacheOpt, TraceArg, app, open_trace


@app.command("export-perfetto")
def export_perfetto(
    trace: TraceArg,
    out: Annotated[Path, typer.Option("--out", "-o", help="JSON file to write.", show_default=False)],
    findings: Annotated[bool, typer.Option("--findings/--no-findings", help="Run the analysis and add its "
                                           "findings as their own track.")] = True,
    window: Annotated[Optional[str], typer.Option("--window", help="Only START:END ms since the first GPU "
                      "activity (the report's timeline axis), e.g. 100:250, :500, 800:.", show_default=False)] = None,
    cache_dir: CacheDirOpt = None,
    no_cache: NoCacheOpt = False,
) -> None:
    """Write a Chrome-trace JSON file that ui.perfetto.dev opens: GPU streams, API calls, NVTX, CPU samples, findings.

    Example: inferscope export-perfetto trace.nsys-rep -o trace.json --window 100:250
    """
    from ..perfetto import export_perfetto as _export
    from ..perfetto import parse_window

    window_ms = parse_window(window)
    t = open_trace(trace, cache_dir, no_cache)
    found = t.analyze().findings if findings else None
    written = _export(t, out, findings=found, window_ms=window_ms)
    typer.echo(f"wrote {written}", err=True)
