"""Every way of mistyping a command line ends in one line on stderr and exit 2, never a traceback.

The cases are generated from the Typer app itself (every command, every option), so a command or option added
later is covered without editing this file. Most run in-process through `run_app` (a subprocess per case would
take minutes); a few run the real `python -m inferscope` to check the same holds end to end.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main

from inferscope.cli import app
from inferscope.cli._common import run_app

from .conftest import REPO, run_cli

ROOT = typer.main.get_command(app)


def _walk(group, prefix: str = "") -> dict:
    """{'analyze': command, 'cache list': command, ...}: every runnable command, nested groups included."""
    found = {}
    for name, command in group.commands.items():
        path = f"{prefix}{name}"
        if hasattr(command, "commands"):
            found.update(_walk(command, path + " "))
        else:
            found[path] = command
    return found


def _groups(group, prefix: str = "") -> dict:
    """{'': the root, 'cache': the cache group, ...}."""
    found = {prefix.strip(): group}
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            found.update(_groups(command, f"{prefix}{name} "))
    return found


COMMANDS = _walk(ROOT)
GROUPS = _groups(ROOT)


def _annotation(param):
    """The Python type an option converts to, under real click (param.type) or typer's vendored click."""
    descriptor = getattr(param, "type_descriptor", None)
    if descriptor is not None:
        return descriptor.annotation
    t = getattr(param, "type", None)
    return {"integer": int, "float": float, "path": Path, "boolean": bool}.get(getattr(t, "name", ""), str)


def _is_flag(param) -> bool:
    return bool(getattr(param, "is_flag", False)) or _annotation(param) is bool


def _options(command) -> list:
    return [p for p in command.params if p.param_type_name == "option" and not getattr(p, "hidden", False)]


def _required_args(name: str, command) -> list[str]:
    """Placeholder values for the required arguments, so a case fails on the option under test, not on them."""
    tail: list[str] = []
    for p in command.params:
        if p.param_type_name == "argument" and p.required:
            if p.nargs == -1 and name == "record":
                tail += ["--", "true"]
            else:
                tail.append("SELECT 1" if p.name == "sql" else "no-such-trace")
    return tail


def _typo(option: str) -> str:
    """Drop one letter from the middle of the name; reject the result if it happens to be another real option."""
    body = option[2:]
    i = len(body) // 2
    return "--" + body[:i] + body[i + 1 :]


def _call(argv: list[str], capsys) -> tuple[int, str, str]:
    code = run_app(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _assert_one_line(code: int, err: str, argv: list[str]) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 2, (argv, code, err)
    assert "Traceback" not in err, (argv, err)
    assert len(lines) == 1, (argv, err)
    assert lines[0].startswith("inferscope"), (argv, err)
    return lines[0]


ALL_NAMES = {n for c in COMMANDS.values() for p in c.params for n in [*p.opts, *getattr(p, "secondary_opts", [])]}
OPTION_CASES = [
    (name, opt)
    for name, cmd in COMMANDS.items()
    for p in _options(cmd)
    for opt in [*p.opts, *getattr(p, "secondary_opts", [])]
    if opt.startswith("--") and len(opt) > 4
]


def test_the_walk_covers_every_command():
    assert set(COMMANDS) >= {"analyze", "stats", "query", "compare", "config", "export-perfetto", "record"}
    assert "cache" in GROUPS and "cache list" in COMMANDS
    assert len(OPTION_CASES) > 40


@pytest.mark.parametrize(("command", "option"), OPTION_CASES, ids=[f"{c}{o}" for c, o in OPTION_CASES])
def test_mistyped_option_is_one_line_that_suggests_the_real_one(command, option, capsys):
    typo = _typo(option)
    assert typo not in ALL_NAMES
    argv = [*command.split(), typo, *_required_args(command, COMMANDS[command])]
    code, _, err = _call(argv, capsys)
    line = _assert_one_line(code, err, argv)
    assert line.startswith(f"inferscope {command}: error: no such option '{typo}'"), line
    assert f"'{option}'" in line.split("did you mean", 1)[1], line
    assert line.endswith(f"; see 'inferscope {command} --help'"), line


VALUE_CASES = []
for _name, _cmd in COMMANDS.items():
    for _p in _options(_cmd):
        if _is_flag(_p):
            continue
        _opt = _p.opts[0]
        _kind = _annotation(_p)
        if _kind in (int, float):
            VALUE_CASES.append((_name, _opt, "abc"))
        if getattr(_p, "min", None) is not None:
            VALUE_CASES.append((_name, _opt, str(_p.min - 1)))
        if _opt == "--format":
            VALUE_CASES.append((_name, _opt, "nope"))
        info = getattr(getattr(_p, "type_descriptor", None), "parameter_info", None)
        if getattr(info, "exists", False) or getattr(getattr(_p, "type", None), "exists", False):
            VALUE_CASES.append((_name, _opt, "/no/such/path"))
# options that take free text but check it before any trace is read
VALUE_CASES += [
    ("record", "--sampler", "sometimes"),
    ("compare", "--threshold", "lots"),
    ("compare", "--min-share", "7"),
    ("export-perfetto", "--window", "9:3"),
    ("analyze", "--window", "3s:1s"),
    ("compare", "--window", "100:200"),
]


@pytest.mark.parametrize(("command", "option", "value"), VALUE_CASES, ids=[f"{c}{o}={v}" for c, o, v in VALUE_CASES])
def test_bad_option_value_is_one_line_naming_the_option(command, option, value, capsys):
    tail = _required_args(command, COMMANDS[command])
    if command == "compare":
        tail = ["no-such-base", "no-such-new"]
    if command == "export-perfetto":  # required, though not by click (its old spelling --out also counts)
        tail += ["-o", "never-written.json"]
    argv = [*command.split(), option, value, *tail]
    code, _, err = _call(argv, capsys)
    line = _assert_one_line(code, err, argv)
    assert option.lstrip("-") in line or value in line, line


def test_value_cases_cover_every_typed_option():
    typed = {
        (n, p.opts[0])
        for n, c in COMMANDS.items()
        for p in _options(c)
        if not _is_flag(p) and _annotation(p) in (int, float)
    }
    assert typed and typed <= {(c, o) for c, o, _ in VALUE_CASES}


MISSING_CASES = [name for name, cmd in COMMANDS.items() if any(p.required for p in cmd.params)]


@pytest.mark.parametrize("command", MISSING_CASES)
def test_missing_required_argument_is_one_line(command, capsys):
    code, _, err = _call(command.split(), capsys)
    line = _assert_one_line(code, err, [command])
    assert line.startswith(f"inferscope {command}: error: missing "), line
    assert line.endswith(f"; see 'inferscope {command} --help'"), line


def test_export_perfetto_without_output_is_a_usage_error(capsys):
    code, _, err = _call(["export-perfetto", "no-such-trace"], capsys)
    line = _assert_one_line(code, err, ["export-perfetto"])
    assert "missing option '--output'" in line, line


NAME_CASES = [(group, name) for group, command in GROUPS.items() for name in command.commands if len(name) > 3]


@pytest.mark.parametrize(("group", "command"), NAME_CASES, ids=[f"{g} {c}".strip() for g, c in NAME_CASES])
def test_mistyped_command_is_one_line_that_suggests_it(group, command, capsys):
    typo = command[:2] + command[3:]
    argv = [*group.split(), typo, "x"]
    code, _, err = _call(argv, capsys)
    line = _assert_one_line(code, err, argv)
    path = f"inferscope {group}".strip()
    assert line.startswith(f"{path}: error: no such command '{typo}' (did you mean "), line
    assert f"'{command}'" in line and line.endswith(f"; see '{path} --help'"), line


VALUE_OPTIONS = [(name, p.opts[0]) for name, cmd in COMMANDS.items() for p in _options(cmd) if not _is_flag(p)]


@pytest.mark.parametrize(("command", "option"), VALUE_OPTIONS, ids=[f"{c}{o}" for c, o in VALUE_OPTIONS])
def test_option_without_its_value_names_the_command(command, option, capsys):
    argv = [*command.split(), option]
    code, _, err = _call(argv, capsys)
    line = _assert_one_line(code, err, argv)
    assert line.startswith(f"inferscope {command}: error: option '{option}' requires an argument"), line


def test_unknown_root_option_and_unknown_word(capsys):
    code, _, err = _call(["--bogus"], capsys)
    assert "no such option '--bogus'" in _assert_one_line(code, err, ["--bogus"])
    code, _, err = _call(["zzz"], capsys)
    line = _assert_one_line(code, err, ["zzz"])
    assert f"(commands: {', '.join(sorted(ROOT.commands))})" in line, line


def test_deprecated_out_and_output_together_are_refused(capsys, tmp_path):
    argv = ["export-perfetto", "t", "-o", str(tmp_path / "a.json"), "--out", str(tmp_path / "b.json")]
    code, _, err = _call(argv, capsys)
    assert "give the file once" in _assert_one_line(code, err, argv)


# --- the real command, end to end --------------------------------------------------------------------------


def test_real_process_usage_errors():
    for argv, expected in (
        (
            ["analyze", "--rulse", "x"],
            "inferscope analyze: error: no such option '--rulse' "
            "(did you mean '--rules'?); see 'inferscope analyze --help'",
        ),
        (
            ["anlyze", "x"],
            "inferscope: error: no such command 'anlyze' (did you mean 'analyze'?); see 'inferscope --help'",
        ),
        (["stats"], "inferscope stats: error: missing argument 'TRACE'; see 'inferscope stats --help'"),
    ):
        r = run_cli(*argv)
        assert (r.returncode, r.stderr, r.stdout) == (2, expected + "\n", ""), r.stderr


@pytest.mark.parametrize("group", sorted(GROUPS))
def test_no_command_prints_the_help_on_stderr_and_exits_2(group):
    """No command is a usage error, as click 8.2+ and typer have it: a script with an empty $CMD must fail."""
    r = run_cli(*group.split())
    assert r.returncode == 2 and r.stdout == "" and "Traceback" not in r.stderr
    assert f"Usage: inferscope {group}".strip() in r.stderr
    assert all(name in r.stderr for name in GROUPS[group].commands)


def test_help_is_exit_0_on_stdout():
    r = run_cli("--help")
    assert r.returncode == 0 and "Usage: inferscope" in r.stdout and r.stderr == ""


def _help(*args: str) -> str:
    r = run_cli(*args, "--help", env={"COLUMNS": "250", "TERM": "dumb", "NO_COLOR": "1"})
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_help_keeps_bracketed_text_and_has_readable_metavars():
    text = _help("analyze")
    assert "[phases]" in text and "\\[" not in text
    for metavar in ("RULE.KEY=VALUE", "PHASE=REGEX", "REGEX", "DIR", "FILE"):
        assert metavar in text, metavar
    for command in [*COMMANDS, *GROUPS]:
        text = _help(*command.split())
        assert "Options:" in text and "--help" in text.partition("Options:")[2], command
        # typer 0.2x labels values by Python type (<list[Path]>, <float>, <bool> beside a flag) and braces
        # required arguments ({TRACE}); a command line names them by metavar
        assert not re.search(r"<[A-Za-z_\[\], ]+>", text), (command, re.findall(r"<[^>\n]*>", text))
        assert "{" not in text, command


@pytest.mark.parametrize("group", sorted(GROUPS))
def test_command_list_gives_each_first_sentence_whole(group):
    """Click cut each command's summary at about 45 characters ("Print the effective configuration: every key,
    its..."); the list gives the first sentence of each command's help, wrapped."""
    text = _help(*group.split()).partition("Commands:")[2]
    flat = " ".join(text.split())
    for name, command in GROUPS[group].commands.items():
        first = re.split(r"(?<=\.)\s", " ".join((command.help or "").split("\n\n")[0].split()), maxsplit=1)[0]
        assert f"{name} {first.rstrip('.')}" in flat, (name, first)
    assert "..." not in flat.replace("cuda_gpu_kern_sum, ...", "")


@pytest.mark.parametrize(
    ("command", "usage", "arguments"),
    [
        ("analyze", "inferscope analyze [OPTIONS] TRACE...", ["TRACE..."]),
        ("stats", "inferscope stats [OPTIONS] TRACE", ["TRACE"]),
        ("query", "inferscope query [OPTIONS] TRACE SQL", ["TRACE", "SQL"]),
        ("export-perfetto", "inferscope export-perfetto [OPTIONS] TRACE", ["TRACE"]),
        ("record", "inferscope record [OPTIONS] CMD...", ["CMD..."]),
        ("compare", "inferscope compare [OPTIONS] [BASE NEW]", ["[BASE NEW]"]),
        ("cache clear", "inferscope cache clear [OPTIONS] [TRACES...]", ["TRACES..."]),
        ("config", "inferscope config [OPTIONS]", []),
    ],
)
def test_usage_line_and_argument_list_name_arguments_as_typed(command, usage, arguments):
    text = _help(*command.split())
    assert text.splitlines()[0] == f"Usage: {usage}", text.splitlines()[0]
    listed = text.partition("Arguments:")[2].partition("Options:")[0] if arguments else ""
    # an entry is the argument's name, two spaces and its help (or the name alone when the help wraps below)
    names = [re.split(r"\s{2,}", ln.strip())[0] for ln in listed.splitlines() if re.match(r"^  \S", ln)]
    assert names == arguments, listed


def test_stats_help_lists_the_report_names():
    from inferscope.engine import stats

    text = _help("stats")
    for name in [*stats.DEFAULT_REPORTS, *stats.available(), *stats.ALIASES]:
        assert name in text, name


@pytest.mark.parametrize(
    "args",
    [["--help"], ["analyze", "--help"], ["stats", "--help"], ["compare", "--help"], ["cache", "list", "--help"]],
    ids=lambda a: " ".join(a),
)
def test_help_imports_no_data_libraries(args):
    """Help is read on login nodes and laptops: DuckDB, pyarrow, pandas and numpy cost seconds cold. Rich (with
    markdown-it and pygments, which typer's Rich help pulls in) and pydantic (typer 0.29 converts a None option
    value through it) cost 0.1 s each: what separates `inferscope --help` from the 0.3 s issue 16 allows
    (benchmarks/bench_cli_startup.py)."""
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "inferscope", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    imported = {ln.split("|")[-1].strip().split(".")[0] for ln in proc.stderr.splitlines() if "import time:" in ln}
    assert "inferscope" in imported
    assert not imported & {"duckdb", "pyarrow", "pandas", "numpy", "rich", "markdown_it", "pygments", "pydantic"}


def test_cli_sources_never_import_click_directly():
    """Typer 0.29 vendors click as typer._click and click is not a dependency: `import click` would crash."""
    for source in (REPO / "inferscope" / "cli").glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else ([node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            )
            assert not any(n == "click" or n.startswith("click.") for n in names), source
