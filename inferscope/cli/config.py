"""`inferscope config`: the effective configuration and where each value came from."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import visible  # a path found upward may hold any character
from ._common import app, fail


@app.command("config")
def config_cmd(
    config: Annotated[
        Optional[Path],
        typer.Option(
            "--config",
            metavar="FILE",
            help="Read this file instead of "
            "searching for inferscope.toml / pyproject.toml upward from the working directory.",
        ),
    ] = None,
    param: Annotated[
        Optional[list[str]],
        typer.Option("--param", metavar="RULE.KEY=VALUE", help="Rule parameter (repeatable), as analyze takes it."),
    ] = None,
    set_: Annotated[
        Optional[list[str]],
        typer.Option("--set", metavar="KEY=VALUE", help="Any key KEY=VALUE, e.g. compare.threshold=3% (repeatable)."),
    ] = None,
    format: Annotated[str, typer.Option("--format", "-f", metavar="FORMAT", help="table or json.")] = "table",
) -> None:
    """Print the effective configuration: every key, its value and where it came from (default, file,
    INFERSCOPE_* variable or command line), built-in step and phase patterns included.

    Example: inferscope config --param gpu_gaps.gap_ns=20000000
    """
    from ..config import load_config

    if format not in ("table", "json"):
        fail(f"unknown format {format!r}; use table or json")
    cfg = load_config(config_file=config, params=param or [], sets=set_ or [])
    rows = cfg.rows()
    if format == "json":
        sys.stdout.write(json.dumps({"file": str(cfg.path) if cfg.path else None, "settings": rows}, indent=1) + "\n")
        return
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    t = Table(title=escape(visible(f"configuration file: {cfg.path or 'none found'}")), header_style="bold")
    for col in ("key", "value", "source"):
        t.add_column(col, overflow="fold")
    for r in rows:
        t.add_row(escape(visible(r["key"])), escape(visible(json.dumps(r["value"]))), escape(visible(r["source"])))
    Console(file=sys.stdout, width=None if sys.stdout.isatty() else 200).print(t)
