"""The Typer app every command module registers on, with the options of the bare `inferscope` (--version).

Its own module so that the command helpers (_common.py) and the error boundary that runs it (_exit.py) can both
name it without importing each other.
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from ..version import __version__

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
    version: Annotated[
        Optional[bool], typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = None,
) -> None:
    pass
