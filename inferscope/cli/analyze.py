"""`inferscope analyze`: what limits this trace, ranked findings and what to do (a thin layer over Trace.analyze)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import QueryError, visible
from ._common import CacheDirOpt, NoCacheOpt, TraceArg, app, open_trace


def parse_params(items: list[str]) -> dict[str, dict[str, str]]:
    """RULE.KEY=VALUE strings -> {rule: {key: value}} (values are typed against the rule's defaults later)."""
    out: dict[str, dict[str, str]] = {}
    for item in items:
        target, sep, value = item.partition("=")
        rule, dot, key = target.partition(".")
        if not sep or not dot or not rule or not key:
            raise QueryError(f"--param {item!r}: expected RULE.KEY=VALUE, e.g. gpu_gaps.gap_ns=1000000")
        out.setdefault(rule.strip(), {})[key.strip()] = value.strip()
    return out


def parse_phase_patterns(items: list[str]) -> dict[str, list[str]]:
    """PHASE=REGEX strings -> {phase: [regex, ...]}, in the order given (a range matching two phases takes the
    first)."""
    out: dict[str, list[str]] = {}
    for item in items:
        phase, sep, regex = item.partition("=")
        if not sep or not phase.strip() or not regex:
            raise QueryError(f"--phase-pattern {item!r}: expected PHASE=REGEX, e.g. prefill='(?i)^prefill'")
        out.setdefault(phase.strip(), []).append(regex)
    return out


def write_atomic(path: Path, text: str) -> None:
    """All or nothing, with the usual file mode, and one-line errors for a missing or unwritable directory;
    says what it wrote once the file is in place."""
    from ..outputs import atomic_write, say_written

    with atomic_write(path.expanduser()) as fh:
        fh.write(text.encode("utf-8"))
    say_written(path.expanduser())


@app.command()
def analyze(
    trace: TraceArg,
    format: Annotated[
        Optional[str],
        typer.Option(
            "--format",
            "-f",
            metavar="FORMAT",
            help="terminal, json, md or html (default: terminal on stdout; with -o, from the file suffix).",
            show_default=False,
        ),
    ] = None,
    output: Annotated[
        Optional[Path],
        typer.Option(
            "--output",
            "-o",
            metavar="FILE",
            help="Write to this file (atomically) instead of stdout: .json, .md, .html or .txt.",
            show_default=False,
        ),
    ] = None,
    rules: Annotated[
        Optional[list[Path]],
        typer.Option(
            "--rules", metavar="DIR", help="Directory of extra rule .sql files (repeatable).", show_default=False
        ),
    ] = None,
    trust_config_rules: Annotated[
        bool,
        typer.Option(
            "--trust-config-rules",
            help="Run the rules_dirs of the project configuration (inferscope.toml / [tool.inferscope] found "
            "upward, or INFERSCOPE_* variables), and remember the file until it changes; otherwise they are skipped "
            "with a note.",
        ),
    ] = False,
    param: Annotated[
        Optional[list[str]],
        typer.Option(
            "--param",
            metavar="RULE.KEY=VALUE",
            help="Override a rule parameter, e.g. gpu_gaps.gap_ns=1000000 (repeatable).",
            show_default=False,
        ),
    ] = None,
    step_pattern: Annotated[
        Optional[list[str]],
        typer.Option(
            "--step-pattern",
            metavar="REGEX",
            help="Regular expression naming step ranges (repeatable; replaces the defaults).",
            show_default=False,
        ),
    ] = None,
    # "\\[" keeps Rich from reading the configuration's table name as a markup tag and dropping it
    phase_pattern: Annotated[
        Optional[list[str]],
        typer.Option(
            "--phase-pattern",
            metavar="PHASE=REGEX",
            help="Ranges matching REGEX belong to PHASE (repeatable; replaces the prefill/decode "
            "defaults and \\[phases] in the configuration).",
            show_default=False,
        ),
    ] = None,
    evidence_rows: Annotated[
        int, typer.Option("--evidence-rows", metavar="N", min=0, help="Evidence rows per finding in JSON.")
    ] = 50,
    cache_dir: CacheDirOpt = None,
    no_cache: NoCacheOpt = False,
) -> None:
    """Say what limits the trace, how much it costs and what to do: metrics and findings ranked by impact.

    Example: inferscope analyze run.nsys-rep -o report.html (or report.md, analysis.json)
    """
    from ..render import FORMATS, SUFFIXES, render

    from ..outputs import format_for_suffix

    fmt = format or (format_for_suffix(output, SUFFIXES) if output is not None else "terminal")
    if fmt not in FORMATS:
        raise QueryError(f"unknown format {fmt!r}; choose from {', '.join(sorted(FORMATS))}")
    from ..config import load_config

    cfg = load_config(rules_dirs=rules or [])  # inferscope.toml / [tool.inferscope] / INFERSCOPE_* defaults
    config_dirs, skipped = cfg.rule_dirs_to_run(trust=trust_config_rules)
    for line in skipped:  # project-local SQL never runs unasked (issue 17); say what was left out and how to allow it
        typer.echo(f"inferscope: note: {visible(line)}", err=True)
    if trust_config_rules:
        problem = cfg.remember_trust()
        if problem:
            typer.echo(f"inferscope: warning: {visible(problem)}", err=True)
    params = cfg.rule_params()
    for rule, values in parse_params(param or []).items():  # --param wins
        params.setdefault(rule, {}).update(values)
    t = open_trace(trace, cache_dir, no_cache)
    analysis = t.analyze(
        rules_dirs=[str(r) for r in rules or []] + [str(d) for d in config_dirs],
        params=params,
        step_patterns=step_pattern or cfg.step_patterns or None,
        evidence_rows=evidence_rows,
        phase_patterns=parse_phase_patterns(phase_pattern or []) or cfg.phase_patterns or None,
    )
    for err in analysis.rule_errors:
        typer.echo(f"inferscope: warning: {visible(err)}", err=True)
    for key, value in sorted(t.meta.items()):  # an incomplete or damaged bundle is said where a script sees it
        if key.startswith("bundle.warning."):
            typer.echo(f"inferscope: warning: {visible(t.path)}: {visible(value)}", err=True)
    if analysis.data_quality:  # figures exclude these rows: say so once, the report has the breakdown
        total = sum(q["count"] for q in analysis.data_quality.values())
        parts = ", ".join(f"{k} {q['count']:,}" for k, q in sorted(analysis.data_quality.items()))
        typer.echo(
            f"inferscope: warning: {t.path}: {total:,} rows with impossible values left out ({parts}); "
            "see the report's Data quality block",
            err=True,
        )
    text = render(analysis, fmt, color=output is None and sys.stdout.isatty(), trace=t)
    if output is not None:
        write_atomic(output, text)
    else:
        sys.stdout.write(text)
