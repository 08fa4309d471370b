"""Shared CLI pieces: the Typer app, options every trace command takes, output formatting, error boundary."""
from __future__ import annotations

import csv
import io
import json
import math
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from .. import __version__
from ..errors import InferScopeError

app = typer.Typer(
    name="inferscope",
    help="Why is my model slow on this GPU, and did my change make it slower?\n\n"
    "Reads Nsight Systems reports and exports, InferScope bundles and PyTorch profiler traces.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"inferscope {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[Optional[bool], typer.Option("--version", callback=_version, is_eager=True,
                                                    help="Print the version and exit.")] = None,
) -> None:
    pass


TraceArg = Annotated[Path, typer.Argument(help="Trace: bundle dir, .nsys-rep, nsys .sqlite/.arrows/parquetdir export, "
                                               "or PyTorch profiler .json[.gz].", show_default=False)]
CacheDirOpt = Annotated[Optional[Path], typer.Option("--cache-dir", help="Store converted tables here instead of "
                                                     "beside the trace.")]
NoCacheOpt = Annotated[bool, typer.Option("--no-cache", help="Convert in memory; read and write no cache.")]


def open_trace(trace: Path, cache_dir: Path | None, no_cache: bool):
    from ..trace import open_trace as _open

    return _open(trace, cache_dir=cache_dir, use_cache=not no_cache)


def fail(message: str) -> None:
    """Raise the one-line user error (exit 2)."""
    raise InferScopeError(message)


def run_app(argv: list[str] | None = None) -> int:
    try:
        result = app(args=argv, prog_name="inferscope", standalone_mode=False)
        # without standalone mode click returns typer.Exit's code instead of raising it
        return result if isinstance(result, int) else 0
    except InferScopeError as exc:
        typer.echo(f"inferscope: error: {exc}", err=True)
        return exc.exit_code
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        typer.echo("inferscope: aborted", err=True)
        return 130
    except KeyboardInterrupt:
        typer.echo("inferscope: interrupted", err=True)
        return 130
    except Exception as exc:  # click usage errors
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            return exc.exit_code
        raise


def _cell(value, decimals: int) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        return f"{value:,.{decimals}f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def _numeric_columns(table) -> list[bool]:
    if hasattr(table, "numeric"):  # engine.Rows
        return [table.numeric(i) for i in range(len(table.column_names))]
    import pyarrow as pa

    return [pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t) for t in table.schema.types]


def print_table(table, fmt: str, title: str | None = None, decimals: int = 1, out=None) -> None:
    """Print an Arrow table or `engine.Rows` as a terminal table, CSV or JSON (list of row objects)."""
    out = out or sys.stdout
    rows = table.to_pylist()
    if fmt == "json":
        out.write(json.dumps(rows, indent=1, default=str) + "\n")
    elif fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(table.column_names)
        for r in rows:
            writer.writerow(["" if v is None else v for v in r.values()])
        out.write(buf.getvalue())
    elif fmt == "table":
        from rich.console import Console
        from rich.table import Table

        t = Table(title=title, show_lines=False, header_style="bold")
        for name, numeric in zip(table.column_names, _numeric_columns(table)):
            if numeric:
                t.add_column(name, justify="right", no_wrap=True)
            else:
                t.add_column(name, justify="left", overflow="fold", min_width=12)
        for r in rows:
            t.add_row(*[_cell(v, decimals) for v in r.values()])
        console = Console(file=out) if out.isatty() else Console(file=out, width=220)
        console.print(t)
        if not rows:
            out.write("(no rows)\n")
    else:
        fail(f"unknown format {fmt!r}; use table, csv or json")
