"""The Typer app every command module registers on, with the options of the bare `inferscope` (--version).

Its own module so that the command helpers (_common.py) and the error boundary that runs it (_exit.py) can both
name it without importing each other.

Help is click's plain layout, not typer's Rich panels: rendering the panels imports rich.markdown, markdown-it,
pygments and rich.traceback, which doubled the time `inferscope --help` takes (0.25 s -> 0.12 s of CPU on this
project's 2-core machine; benchmarks/bench_cli_startup.py), and Rich markup ate bracketed help text such as
`[phases]`. Arguments are named by their metavar (`TRACE...`), not by typer's type labels (`<list[Path]>`,
`{TRACE}`), which read as Python rather than as a command line.
"""

from __future__ import annotations

from typing import Annotated

import typer
from typer.core import TyperGroup

from ..version import __version__


def _argument_label(param) -> str:
    """TRACE, TRACE... for several, or the metavar as written where it already shows itself optional ([BASE NEW])."""
    label = param.metavar or (param.name or "").upper()
    if label.startswith("["):
        return label
    return label + ("..." if param.nargs != 1 else "")


def _name_arguments_by_metavar(command) -> None:
    """Replace, on this command's argument objects, the two methods that print an argument in the usage line and in
    the Arguments list. Both are click's public Parameter API; typer 0.2x fills them with type labels."""
    for param in getattr(command, "params", None) or []:
        if getattr(param, "param_type_name", "") != "argument":
            continue
        label = _argument_label(param)
        usage = label if param.required or label.startswith("[") else f"[{label}]"
        record = param.get_help_record

        def help_record(ctx, record=record, label=label):
            rv = record(ctx)
            return None if rv is None else (label, rv[1])

        param.get_usage_pieces = lambda ctx, usage=usage: [usage]
        param.get_help_record = help_record
    for sub in (getattr(command, "commands", None) or {}).values():
        _name_arguments_by_metavar(sub)


class Group(TyperGroup):
    """The root group and `cache`. Typer builds every command below a group first, so one pass over the root
    reaches them all."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        _name_arguments_by_metavar(self)

    def format_commands(self, ctx, formatter) -> None:
        """Each command with its first sentence whole, wrapped, where click cuts it at about 45 characters
        ("Print the effective configuration: every key, its...")."""
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit=1000)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def get_help_option(self, ctx):
        """A group's --help, when a command below it is what was asked for, is absent: typer 0.29 leaves its value
        None, converts None through pydantic, and importing pydantic cost `inferscope analyze --help` 0.15 s.
        False is a bool, which typer passes through as it is."""
        option = super().get_help_option(ctx)
        if option is not None and option.default is None:
            option.default = False
        return option


app = typer.Typer(
    name="inferscope",
    help="Why is my model slow on this GPU, and did my change make it slower?\n\n"
    "Reads Nsight Systems reports and exports, InferScope bundles and PyTorch profiler traces.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    cls=Group,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"inferscope {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    # A plain bool defaulting to False, not Optional[bool] = None: typer 0.29 converts a non-bool value through
    # pydantic, and importing pydantic for this option cost `inferscope analyze --help` 0.15 s.
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    pass
