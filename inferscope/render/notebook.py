"""Jupyter display of traces and analyses, from the report's template environment (same escaping).

An `Analysis` is plain data and does not know how it is shown: `register_display` tells a running IPython to
show analyses with `analysis_html` (the public `inferscope` API calls it on import). `inferscope.Trace` shows
itself with `trace_html`.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from .report import _environment
from ..units import fmt_ns

if TYPE_CHECKING:
    from ..analyze.result import Analysis


def _html(summary: dict | None = None, analysis: "Analysis | None" = None, limit: int = 15) -> str:
    return (
        _environment(markdown=False)
        .get_template("notebook.html.j2")
        .render(summary=summary, analysis=analysis, limit=limit)
    )


def analysis_html(analysis: "Analysis", limit: int = 15) -> str:
    """The headline and the findings ranked by impact."""
    return _html(analysis=analysis, limit=limit)


def trace_html(s: dict) -> str:
    """What a trace holds (`Trace.summary()`): source, span, devices and event counts."""
    rows = [
        ("span", fmt_ns(s["span_ns"]) if s["span_ns"] is not None else "—"),
        ("GPUs with kernels", s["gpus"]),
        ("kernels", f"{s['kernels']:,}"),
        ("memcpy", f"{s['memcpy']:,}"),
        ("API calls", f"{s['api_calls']:,}"),
        ("annotated ranges", f"{s['ranges']:,}"),
        ("CPU samples", f"{s['samples']:,}"),
    ]
    return _html(summary={"path": s["path"], "format": s["format"], "version": s["version"], "rows": rows})


def register_display(shell=None) -> bool:
    """Show `Analysis` objects as HTML in a running IPython (or `shell`); False when there is none. Registered by
    type name, so the formatter does not import the analysis stage either."""
    if shell is None:
        ipython = sys.modules.get("IPython")
        shell = ipython.get_ipython() if ipython is not None and hasattr(ipython, "get_ipython") else None
    if shell is None:
        return False
    formatter = shell.display_formatter.formatters["text/html"]
    formatter.for_type_by_name("inferscope.analyze.result", "Analysis", analysis_html)
    return True
