"""Usage errors (unknown command or option, missing argument, bad value) as one line on stderr and exit 2.

Click's own rendering is a usage block, a blank line and a boxed message, and some typer releases vendor click
as `typer._click` while others use the real package, so `import click` works only on some installs. The
exception is therefore recognised by the names in its class hierarchy (ClickException, UsageError,
NoSuchOption, ...), which every click and typer release shares, and read through attributes they all carry.
"""

from __future__ import annotations

import difflib
import re

PROG = "inferscope"


def _class_names(exc: BaseException) -> set[str]:
    return {c.__name__ for c in type(exc).__mro__}


def is_click_exception(exc: BaseException) -> bool:
    return "ClickException" in _class_names(exc)


def is_usage_error(exc: BaseException) -> bool:
    return "UsageError" in _class_names(exc)


def is_no_args_help(exc: BaseException) -> bool:
    return "NoArgsIsHelpError" in _class_names(exc)


def _quote_all(names: list[str]) -> str:
    quoted = [f"'{n}'" for n in names]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]


def _one_line(text: str) -> str:
    """Click messages end with a full stop and sometimes wrap; the sentence is embedded in ours."""
    text = " ".join(str(text).split()).rstrip(".")
    if len(text) > 1 and text[0].isupper() and text[1].islower():
        text = text[0].lower() + text[1:]
    return text


def _option_names(command) -> list[str]:
    names: list[str] = []
    for p in getattr(command, "params", None) or []:
        if getattr(p, "param_type_name", "") == "option" and not getattr(p, "hidden", False):
            names += [*getattr(p, "opts", []), *getattr(p, "secondary_opts", [])]
    return names


def _no_such_option(exc, command) -> str:
    name = getattr(exc, "option_name", None) or ""
    close = sorted(getattr(exc, "possibilities", None) or [])
    if not close and name.startswith("--"):
        close = difflib.get_close_matches(name, _option_names(command), n=3)
    text = f"no such option '{name}'"
    return text + (f" (did you mean {_quote_all(close)}?)" if close else "")


_NO_SUCH_COMMAND = re.compile(r"^No such command (['\"])(?P<name>.*?)\1")


def _no_such_command(message: str, command) -> str | None:
    m = _NO_SUCH_COMMAND.match(message)
    commands = getattr(command, "commands", None)
    if m is None or not isinstance(commands, dict):
        return None
    name = m.group("name")
    visible = sorted(n for n, c in commands.items() if not getattr(c, "hidden", False))
    close = difflib.get_close_matches(name, visible, n=3)
    if close:
        return f"no such command '{name}' (did you mean {_quote_all(close)}?)"
    return f"no such command '{name}' (commands: {', '.join(visible)})"


def usage_line(exc: BaseException, fallback_path: str = PROG) -> str:
    """`inferscope analyze: error: no such option '--bogus' (did you mean '--rules'?); see 'inferscope analyze --help'`.

    `fallback_path` names the command when click raised without a context (its option parser does, e.g. for an
    option given without its value)."""
    ctx = getattr(exc, "ctx", None)
    command = getattr(ctx, "command", None)
    path = getattr(ctx, "command_path", None) or fallback_path
    names = _class_names(exc)
    message = str(getattr(exc, "message", "") or "")
    what = None
    if "NoSuchOption" in names:
        what = _no_such_option(exc, command)
    elif message.startswith("No such command"):
        what = _no_such_command(message, command)
    if what is None:
        try:
            what = _one_line(exc.format_message())
        except Exception:  # a click release whose message needs state we do not have
            what = _one_line(message or type(exc).__name__)
    return f"{path}: error: {what}; see '{path} --help'"


def command_path(args: list[str], root) -> str:
    """`inferscope cache list` for the (sub)command an argument list invokes: groups here take only flags, so
    each word that names a command under the current group is that command."""
    path, command = [PROG], root
    for arg in args:
        if arg == "--":
            break
        sub = getattr(command, "commands", {}).get(arg) if not arg.startswith("-") else None
        if sub is not None:
            path.append(arg)
            command = sub
        elif not arg.startswith("-"):
            break
    return " ".join(path)


def error_line(exc: BaseException) -> str:
    """Any other click exception (a file click could not open, ...): the message alone, on one line."""
    try:
        text = exc.format_message()
    except Exception:
        text = str(exc)
    return f"{PROG}: error: {_one_line(text)}"
