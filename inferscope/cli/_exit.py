"""The CLI's error boundary: how every run ends, with one line on stderr and an exit code a script can act on.

Usage errors and InferScopeError are the user's to fix (2); Ctrl-C and SIGTERM are reported as the interruption
they were (130/143) however deep in DuckDB they landed; a closed pipe is not an error; anything else is a bug in
InferScope (70) whose traceback is saved to a file rather than shown. docs/ci.md lists the codes.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

import typer
import typer.main

from .. import duckdb_conn
from ..errors import InferScopeError, visible
from ..version import __version__
from ._app import app
from ._usage import PROG, command_path, error_line, is_click_exception, is_no_args_help, is_usage_error, usage_line


def _bare_group(args: list[str]) -> bool:
    """Whether `args` names only a command group (`inferscope`, `inferscope cache`), with no command under it.

    Read from the Typer registrations: building the click command tree to ask would cost 25 ms on every run."""
    if not args:
        return True
    groups = {g.name or getattr(g.typer_instance.info, "name", None) for g in app.registered_groups}
    return len(args) == 1 and args[0] in groups


def _help_on_stderr(args: list[str]) -> int:
    """`inferscope` (or `inferscope cache`) alone: no command was given, which is a usage error (exit 2, as click
    8.2+, typer and clap do), so a script running `inferscope $CMD` with an empty variable fails; the help goes
    to stderr with it. Decided here because click's no_args_is_help differs between releases (exit 0 before
    8.2) and typer's rich help is printed to stdout."""
    with contextlib.redirect_stdout(sys.stderr):
        try:
            app(args=[*args, "--help"], prog_name=PROG, standalone_mode=False)
        except typer.Exit:
            pass
    return 2


EXIT_INTERNAL = 70  # EX_SOFTWARE of sysexits.h: a bug in InferScope, never a verdict on the traces
EXIT_BROKEN_PIPE = 128 + 13  # what a shell reports for a program that SIGPIPE ended, as `yes | head` gives


class _Signals:
    """SIGINT and SIGTERM while a command runs: the signal is noted, then KeyboardInterrupt is raised as Python's
    own SIGINT handler does. DuckDB runs queries with the GIL released and polls for pending signals; when the
    handler raises, it cancels the query and raises its own error ("Query interrupted", InterruptException)
    instead, which code between the query and run_app may wrap. The note is what tells the error boundary that
    whatever came out was caused by the signal, and which one (exit 130 for SIGINT, 143 for SIGTERM).

    A signal the parent set to be ignored (a shell runs `cmd &` with SIGINT ignored; `nohup`) stays ignored."""

    def __init__(self, exiting: bool = False) -> None:
        self.received: int | None = None
        self.exiting = exiting
        self._previous: dict[int, object] = {}

    def _handle(self, signum: int, frame) -> None:
        if self.received is not None:
            # Already stopping. DuckDB answers the first signal by cancelling its query and simulating a SIGINT
            # of its own (PyErr_SetInterrupt); raising again would break the way out, and a KeyboardInterrupt
            # left pending past run_app made Python kill itself with SIGINT (exit -2 after "terminated").
            return
        self.received = signum
        raise KeyboardInterrupt

    def __enter__(self) -> "_Signals":
        import signal

        for signum in (signal.SIGINT, signal.SIGTERM):
            try:
                if signal.getsignal(signum) is signal.SIG_IGN:
                    continue
                self._previous[signum] = signal.signal(signum, self._handle)
            except ValueError:  # not the main thread (run_app called from a worker): signals stay as they are
                break
        return self

    def __exit__(self, *exc) -> None:
        import signal

        if self.received is not None:
            if self.exiting:
                # The process ends with our exit code next. DuckDB's simulated SIGINT (see _handle) can still be
                # pending, or be set late by a query thread winding down; under the previous handler it would
                # become a KeyboardInterrupt past run_app and Python would kill itself with SIGINT (exit -2).
                # Our handler, left in place, swallows it.
                return
            # In-process callers get their handlers back; a trip still pending is delivered at the next bytecode
            # while our handler swallows it.
            sum(range(8))
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def exit_code(self) -> int:
        import signal

        return 128 + (self.received or signal.SIGINT)


def _interrupted_line(signum: int | None) -> str:
    import signal

    return "inferscope: terminated" if signum == signal.SIGTERM else "inferscope: interrupted"


def _is_interruption(exc: BaseException) -> bool:
    """DuckDB's answer to a signal: InterruptException, or on releases that lack the class, a RuntimeError or
    duckdb.Error reading "Query interrupted". InferScope never calls `interrupt()` itself, so a signal caused it."""
    if isinstance(exc, KeyboardInterrupt):
        return True
    duckdb = sys.modules.get("duckdb")
    interrupt_type = getattr(duckdb, "InterruptException", None) if duckdb else None
    if interrupt_type is not None and isinstance(exc, interrupt_type):
        return True
    return isinstance(exc, Exception) and "Query interrupted" in str(exc)


def _in_chain(exc: BaseException | None, test) -> BaseException | None:
    """The first exception in `exc`'s cause chain (itself, then what caused it) that passes `test`."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if test(exc):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


def _caused_by_interruption(exc: BaseException | None) -> bool:
    return _in_chain(exc, _is_interruption) is not None


def traceback_dir() -> Path:
    """Where internal-error tracebacks go: the system temporary directory ($TMPDIR, else /tmp; %TEMP% on
    Windows), which every user can write to even when the cache directory is what failed."""
    import tempfile

    return Path(tempfile.gettempdir())


def _versions() -> str:
    import platform

    parts = [f"inferscope {__version__}", f"Python {platform.python_version()}", platform.platform()]
    for name in ("duckdb", "pyarrow", "typer", "rich"):
        version = getattr(sys.modules.get(name), "__version__", None)
        if version:
            parts.append(f"{name} {version}")
    return ", ".join(parts)


def _save_traceback(exc: BaseException, args: list[str]) -> tuple[Path | None, str]:
    """The traceback in a new file (mode 0600: it names local paths) and its path, or None and why not."""
    import tempfile
    import time
    import traceback

    text = (
        f"{_versions()}\n"
        f"command: {' '.join([PROG, *args])!r}\n"
        f"time: {time.strftime('%Y-%m-%dT%H:%M:%S%z')}\n\n"
        + "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    )
    try:
        fd, name = tempfile.mkstemp(prefix="inferscope-traceback-", suffix=".txt", dir=traceback_dir())
        with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace") as fh:
            fh.write(text)
    except OSError as err:
        return None, text if not err.strerror else f"{err.strerror}\n{text}"
    return Path(name), text


def _one_line(text: str, limit: int = 300) -> str:
    flat = visible(" ".join(str(text).split()))
    return flat if len(flat) <= limit else flat[: limit - 1] + "\u2026"


def _internal_error(exc: BaseException, args: list[str]) -> int:
    """An exception nobody expected: one line that says so and where the traceback is, exit 70."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""  # DuckDB adds a LINE/caret block
    what = f"{type(exc).__name__}: {_one_line(first)}" if first else type(exc).__name__
    path, text = _save_traceback(exc, args)
    if path is not None:
        typer.echo(f"inferscope: internal error: {what}; the full traceback is in {path}; please report it", err=True)
    else:  # nowhere to save it: the traceback itself is the report, better on stderr than lost
        typer.echo(f"inferscope: internal error: {what}; the traceback could not be saved, so here it is:", err=True)
        typer.echo(text.rstrip("\n"), err=True)
        typer.echo("inferscope: please report it", err=True)
    return EXIT_INTERNAL


def run_app(argv: list[str] | None = None, *, exiting: bool = False) -> int:
    """Run the CLI and return its exit code. Every way out is one line on stderr, never a traceback, with a code a
    script can act on (docs/ci.md, "exit"): 2 for anything the user can fix, 130/143 when Ctrl-C or SIGTERM
    stopped the run, 70 for a bug in InferScope (its traceback saved to a file); 1 stays `compare`'s
    "regression", so no failure here can read as one. `exiting` says the process ends right after (the console
    script): a stopping signal's handlers then stay in place until it does."""
    args = list(sys.argv[1:] if argv is None else argv)
    if _bare_group(args):
        return _help_on_stderr(args)
    with _Signals(exiting) as signals:
        try:
            code = _run(args, signals)
            if signals.received is not None and code:  # typer returns Ctrl-C as a silent exit code 130
                typer.echo(_interrupted_line(signals.received), err=True)
                return signals.exit_code()
            return code
        except BaseException as exc:
            if signals.received is not None or _caused_by_interruption(exc):
                # whatever the signal broke on its way out (a query, a write) is not the story: it was stopped
                typer.echo(_interrupted_line(signals.received), err=True)
                return signals.exit_code()
            if isinstance(exc, (SystemExit, GeneratorExit)):
                raise
            return _internal_error(exc, args)


def _run(args: list[str], signals: _Signals) -> int:
    """The command, with every expected way out turned into its exit code; anything else propagates, and so does
    every error once a signal has arrived (whatever it broke is reported as the interruption it was)."""
    try:
        result = app(args=args, prog_name=PROG, standalone_mode=False)
        # without standalone mode click returns typer.Exit's code instead of raising it
        return result if isinstance(result, int) else 0
    except InferScopeError as exc:
        if signals.received is not None or _caused_by_interruption(exc):  # e.g. a wrapped "Query interrupted"
            raise
        typer.echo(f"inferscope: error: {visible(str(exc))}", err=True)  # one line, whatever a name holds
        return exc.exit_code
    except typer.Exit as exc:
        if _caused_by_interruption(exc.__cause__):
            raise  # typer turns KeyboardInterrupt into a silent Exit(130); the boundary says what happened
        return exc.exit_code
    except typer.Abort as exc:
        if _caused_by_interruption(exc.__cause__ or exc.__context__):
            raise  # Ctrl-C at a prompt
        typer.echo("inferscope: aborted", err=True)
        return 130
    except BrokenPipeError:  # `inferscope stats x | head`: the reader left, which is not an error to report
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - keeps the interpreter's final flush quiet
        return EXIT_BROKEN_PIPE
    except Exception as exc:
        if is_no_args_help(exc):  # a command with no_args_is_help: click printed its help already
            return 2
        if is_usage_error(exc):
            typer.echo(visible(usage_line(exc, command_path(args, typer.main.get_command(app)))), err=True)
            return 2
        if signals.received is not None:
            raise
        if is_click_exception(exc) and not _caused_by_interruption(exc):
            typer.echo(visible(error_line(exc)), err=True)
            return 2  # a file click could not open and the like: bad input, never 1 (compare's "regression")
        oom = _out_of_memory(exc)
        if oom is not None:  # a DuckDB statement outside the engine's own wrappers (a temp table, an export)
            typer.echo(f"inferscope: error: {visible(str(duckdb_conn.out_of_memory(oom, 'the analysis')))}", err=True)
            return 2
        raise


def _out_of_memory(exc: BaseException | None) -> BaseException | None:
    """DuckDB's out-of-memory error, if it is `exc` or what caused it: the memory cap or the machine's memory is
    too small, which the user changes; not a bug to report."""
    duckdb = sys.modules.get("duckdb")
    oom_type = getattr(duckdb, "OutOfMemoryException", None) if duckdb else None
    return None if oom_type is None else _in_chain(exc, lambda e: isinstance(e, oom_type))
