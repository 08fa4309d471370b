"""`inferscope cache`: where converted traces are kept, what is there, and clearing it.

The cache grows by one entry per trace opened (tens of MB for a large trace) and lives in the user cache directory,
out of sight; these commands make it visible and removable. The logic is `inferscope.engine.cache` (`entries()`,
`clear()`, `resolve_root()`); this module only parses and prints.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..engine import cache as _cache
from ..errors import visible  # file names are chosen by others: no raw ESC on the terminal
from ..outputs import human_size  # one unit convention for every size the CLI prints
from ._app import Group
from ._common import app, fail

cache_app = typer.Typer(
    name="cache",
    help="See and clear the cache of converted traces (Parquet tables kept so that later commands are fast).\n\n"
    f"It lives in the user cache directory, or where --cache-dir or {_cache.ENV_VAR} says; never beside a trace.",
    no_args_is_help=True,
    cls=Group,
)
app.add_typer(cache_app, name="cache")

CacheDirOpt = Annotated[
    Optional[Path],
    typer.Option(
        "--cache-dir",
        metavar="DIR",
        help=f"The cache to act on (default: ${_cache.ENV_VAR}, else the user cache directory).",
    ),
]


def _when(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(epoch)) if epoch else ""


def _format(e: _cache.Entry) -> str:
    fmt = e.format or "unknown"
    return fmt if e.current or e.model_version is None else f"{fmt} (old model {e.model_version})"


@cache_app.command("path")
def path_cmd(cache_dir: CacheDirOpt = None) -> None:
    """Print the cache directory (whether or not anything is cached yet).

    Example: du -sh "$(inferscope cache path)"
    """
    typer.echo(str(_cache.resolve_root(cache_dir)))


@cache_app.command("list")
def list_cmd(
    cache_dir: CacheDirOpt = None,
    format: Annotated[str, typer.Option("--format", "-f", metavar="FORMAT", help="table or json.")] = "table",
) -> None:
    """List cached traces: the trace each was last opened from, format, size on disk, last use.

    Example: inferscope cache list -f json
    """
    if format not in ("table", "json"):
        fail(f"unknown format {format!r}; use table or json")
    root = _cache.resolve_root(cache_dir)
    found = _cache.entries(cache_dir)
    if format == "json":
        rows = [
            {
                "source": e.source,
                "format": e.format,
                "size_bytes": e.size_bytes,
                "last_used": _when(e.last_used),
                "model_version": e.model_version,
                "current": e.current,
                "entry": str(e.path),
                "sources": e.sources,
            }
            for e in found
        ]
        sys.stdout.write(json.dumps({"cache_dir": str(root), "entries": rows}, indent=1) + "\n")
        return
    if not found:
        typer.echo(f"the cache at {visible(root)} is empty")
        return
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    t = Table(title=escape(visible(root)), header_style="bold")
    t.add_column("source", overflow="fold")
    t.add_column("format")
    t.add_column("size", justify="right", no_wrap=True)
    t.add_column("last used", no_wrap=True)
    t.add_column("entry", overflow="fold")
    for e in found:
        source = e.source or "?"
        if e.source and not Path(e.source).exists():
            source += " (gone)"
        t.add_row(
            escape(visible(source)),
            escape(visible(_format(e))),
            human_size(e.size_bytes),
            _when(e.last_used),
            escape(visible(e.path.name)),
        )
    Console(file=sys.stdout, width=None if sys.stdout.isatty() else 200).print(t)
    typer.echo(f"{len(found)} entr{'y' if len(found) == 1 else 'ies'}, {human_size(sum(e.size_bytes for e in found))}")


@cache_app.command("clear")
def clear_cmd(
    traces: Annotated[
        Optional[list[Path]],
        typer.Argument(
            help="Only these traces' entries (matched by path, or by content if the file still exists).",
            show_default=False,
        ),
    ] = None,
    older_than: Annotated[
        Optional[float],
        typer.Option("--older-than", metavar="DAYS", min=0, help="Only entries not used for DAYS days."),
    ] = None,
    cache_dir: CacheDirOpt = None,
) -> None:
    """Remove cached traces (all of them unless TRACE or --older-than narrows it) and print what was freed.

    Example: inferscope cache clear --older-than 30
    """
    root = _cache.resolve_root(cache_dir)
    removed = _cache.clear(traces or [], older_than_days=older_than, cache_dir=cache_dir)
    if not removed:
        typer.echo(f"nothing to clear in {visible(root)}")
        return
    for e in removed:
        typer.echo(f"freed {human_size(e.size_bytes):>9}  {visible(e.source or e.path)}  ({visible(_format(e))})")
    total = sum(e.size_bytes for e in removed)
    typer.echo(f"freed {human_size(total)} in {len(removed)} entr{'y' if len(removed) == 1 else 'ies'}")
