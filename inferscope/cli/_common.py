"""Shared CLI pieces: options every trace command takes, helpers for user errors, output formatting.

The app (_app.py) and the error boundary that runs it (`run_app`, _exit.py) are re-exported here, where the
command modules and tests have always imported them.
"""

from __future__ import annotations

import csv
import io
import json
import math
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import InferScopeError, visible
from ._app import app  # noqa: F401 - re-exported: the command modules register on it from here
from ._exit import run_app  # noqa: F401 - re-exported: cli/__init__.py and the tests run the CLI through it

TraceArg = Annotated[
    Path,
    typer.Argument(
        metavar="TRACE",
        help="Trace: bundle dir, .nsys-rep, nsys .sqlite/.arrows/parquetdir export, or PyTorch profiler .json[.gz].",
        show_default=False,
    ),
]
CacheDirOpt = Annotated[
    Optional[Path],
    typer.Option(
        "--cache-dir",
        metavar="DIR",
        help="Store converted tables "
        "here instead of the user cache directory "
        "($INFERSCOPE_CACHE_DIR, else ~/.cache/inferscope; see "
        "`inferscope cache path`).",
    ),
]
NoCacheOpt = Annotated[bool, typer.Option("--no-cache", help="Convert in memory; read and write no cache.")]


def open_trace(trace: Path, cache_dir: Path | None, no_cache: bool):
    from ..api import open_trace as _open

    return _open(trace, cache_dir=cache_dir, use_cache=not no_cache)


def fail(message: str) -> None:
    """Raise the one-line user error (exit 2)."""
    raise InferScopeError(message)


def usage_error(ctx: typer.Context, message: str) -> None:
    """A usage mistake found after parsing (a required option that has a deprecated alias, so click cannot
    require it): reported like click's own, with the command's help hint."""
    ctx.fail(message)


OutAliasOpt = Annotated[
    Optional[Path], typer.Option("--out", hidden=True, show_default=False, help="Old spelling of --output.")
]


def output_or_alias(ctx: typer.Context, output: Path | None, out: Path | None) -> Path | None:
    """Every command spells its file option -o/--output; `--out`, which record and export-perfetto used to take,
    still works so that existing scripts do not break, with a warning that says what to write instead."""
    if out is None:
        return output
    if output is not None:
        usage_error(ctx, "give the file once, with -o/--output (--out is its old spelling).")
    typer.echo("inferscope: warning: --out is deprecated; use -o/--output", err=True)
    return out


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


def _row_values(table, limit: int | None = None) -> list[tuple]:
    """Rows as value tuples (not dicts, which would merge two columns of the same name), only the first `limit`."""
    if hasattr(table, "rows"):  # engine.Rows
        return list(table.rows if limit is None else table.rows[:limit])
    part = table if limit is None else table.slice(0, limit)
    return list(zip(*(col.to_pylist() for col in part.columns))) if part.num_columns else []


TABLE_LIMIT = 50
TEXT_MIN_WIDTH = 40  # the narrowest a name column is folded to when a table is wider than the console


def _csv_cell(value):
    """A NUL in a name (a program can hand NVTX any bytes) is written as U+FFFD, as invalid UTF-8 already is: the
    csv module of Python 3.10 refuses to write it, and most CSV readers stop at it."""
    if value is None:
        return ""
    return value.replace("\x00", "\ufffd") if isinstance(value, str) else value


def print_table(table, fmt: str, title: str | None = None, decimals: int = 1, out=None, limit: int = 0) -> None:
    """Print an Arrow table or `engine.Rows` as a terminal table, CSV or JSON (list of row objects).

    A terminal table shows only the first `limit` rows (0: all): Rich lays out every row before printing, which
    took 20 s for the 16,582 NVTX ranges of the bundled sample, and nobody reads that far in a terminal. CSV and
    JSON are for programs and always carry every row."""
    out = out or sys.stdout
    if fmt == "json":
        _write_json_rows(table, out)
    elif fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(table.column_names)
        out.write(buf.getvalue())
        buf.seek(0)
        buf.truncate()
        for chunk in _row_chunks(table):
            writer.writerows([_csv_cell(v) for v in r] for r in chunk)
            out.write(buf.getvalue())
            buf.seek(0)
            buf.truncate()
    elif fmt == "table":
        _print_rich_table(table, title, decimals, out, limit)
    else:
        fail(f"unknown format {fmt!r}; use table, csv or json")


_CHUNK_ROWS = 1000


def _row_chunks(table):
    """Value tuples `_CHUNK_ROWS` at a time: with long names (kilobytes each) the rows as Python objects, or the
    text written from them, would otherwise be one more copy of every name, whole."""
    if hasattr(table, "chunks"):  # engine.RowStream: fetched as it is read
        yield from table.chunks
        return
    if hasattr(table, "rows"):  # engine.Rows: already Python values
        for i in range(0, len(table.rows), _CHUNK_ROWS):
            yield table.rows[i : i + _CHUNK_ROWS]
        return
    for i in range(0, table.num_rows, _CHUNK_ROWS):
        yield _row_values(table.slice(i, _CHUNK_ROWS))


def _write_json_rows(table, out) -> None:
    """The text `json.dumps(table.to_pylist(), indent=1)` gives, written a chunk of rows at a time."""
    names = list(table.column_names)
    first = True
    for chunk in _row_chunks(table):
        for values in chunk:
            row = dict(zip(names, values))
            text = json.dumps(row, indent=1, default=str).replace("\n", "\n ")  # one level deeper, inside the list
            out.write(("[\n " if first else ",\n ") + text)
            first = False
    out.write("[]\n" if first else "\n]\n")


def _print_rich_table(table, title: str | None, decimals: int, out, limit: int) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    total = table.num_rows
    rows = _row_values(table, limit if limit > 0 else None)
    # Text cells are never parsed as markup: a kernel or range named like `[/x]` is data, not a style tag; and
    # visible() writes ESC, BEL, CR, bidi overrides as escapes, which Rich would pass to the terminal raw
    t = Table(title=Text(visible(title)) if title else None, show_lines=False, header_style="bold")
    cells = [[visible(_cell(v, decimals)) for v in r] for r in rows]
    widths = []
    for i, (name, numeric) in enumerate(zip(table.column_names, _numeric_columns(table))):
        widest = max([len(visible(name)), *(len(c[i]) for c in cells)])
        if numeric:
            widths.append(widest)
            t.add_column(Text(visible(name)), justify="right", no_wrap=True, min_width=widest)
        else:
            widths.append(min(max(widest, 12), TEXT_MIN_WIDTH))
            t.add_column(Text(visible(name)), justify="left", overflow="fold", min_width=widths[-1])
    for r in cells:
        t.add_row(*[Text(c) for c in r])
    console = Console(file=out) if out.isatty() else Console(file=out, width=220)
    # Rich fits a table to the console by cutting cells to "428,52…", and a cut number is a wrong number; with 27
    # columns (cuda_kern_exec_sum) whole columns shrank to nothing. A table that cannot fit is printed wider
    # than the console instead: every number whole, names folded at TEXT_MIN_WIDTH (3 per column: padding, rule).
    needed = sum(widths) + 3 * len(widths) + 1
    if needed > console.width:
        console = Console(file=out, width=needed, force_terminal=console.is_terminal)
    console.print(t)
    if not rows:
        out.write("(no rows)\n")
    elif total > len(rows):
        dots = "\u2026" if "utf" in (getattr(out, "encoding", None) or "utf-8").lower() else "..."
        out.write(f"{dots} {total - len(rows):,} more rows; use -f csv or --limit 0 for all\n")
