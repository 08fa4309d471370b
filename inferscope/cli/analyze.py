"""`inferscope analyze`: what limits this trace, ranked findings and what to do (a thin layer over Trace.analyze)."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import QueryError
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
    """All or nothing, with the usual file mode, and one-line errors for a missing or unwritable directory."""
    from ..outputs import atomic_write

    with atomic_write(path.expanduser()) as fh:
        fh.write(text.encode("utf-8"))


@app.command()
def analyze(
    trace: TraceArg,
    format: Annotated[Optional[str], typer.Option("--format", "-f", help="terminal, json, md or html (default: "
                      "terminal on stdout; with -o, from the file suffix, else json).", show_default=False)] = None,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write to this file (atomically) "
                      "instead of stdout.")] = None,
    rules: Annotated[Optional[list[Path]], typer.Option("--rules", help="Directory of extra rule .sql files "
                     "(repeatable).")] = None,
    param: Annotated[Optional[list[str]], typer.Option("--param", help="Override a rule parameter: "
                     "RULE.KEY=VALUE (repeatable).")] = None,
    step_pattern: Annotated[Optional[list[str]], typer.Option("--step-pattern", help="Regular expression naming "
                            "step ranges (repeatable; replaces the defaults).")] = None,
    phase_pattern: Annotated[Optional[list[str]], typer.Option("--phase-pattern", help="PHASE=REGEX: ranges "
                             "matching REGEX belong to PHASE (repeatable; replaces the prefill/decode defaults "
                             "and [phases] in the configuration).")] = None,
    evidence_rows: Annotated[int, typer.Option("--evidence-rows", help="Evidence rows per finding in "
                             "JSON.")] = 50,
    cache_dir: CacheDirOpt = None,
    no_cache: NoCacheOpt = False,
) -> None:
    """Say what limits the trace, how much it costs and what to do: metrics and findings ranked by impact.

    Example: inferscope analyze run.nsys-rep -o report.html (or report.md, analysis.json)
    """
    from ..render import FORMATS, SUFFIXES, render

    fmt = format or (SUFFIXES.get(output.suffix.lower(), "json") if output is not None else "terminal")
    if fmt not in FORMATS:
        raise QueryError(f"unknown format {fmt!r}; choose from {', '.join(sorted(FORMATS))}")
    from ..config import load_config

    cfg = load_config(rules_dirs=rules or [])  # inferscope.toml / [tool.inferscope] / INFERSCOPE_* defaults
    params = cfg.rule_params()
    for rule, values in parse_params(param or []).items():  # --param wins
        params.setdefault(rule, {}).update(values)
    t = open_trace(trace, cache_dir, no_cache)
    analysis = t.analyze(rules_dirs=[str(r) for r in rules or []] + [str(d) for d in cfg.rules_dirs], params=params,
                         step_patterns=step_pattern or cfg.step_patterns or None, evidence_rows=evidence_rows,
                         phase_patterns=parse_phase_patterns(phase_pattern or []) or cfg.phase_patterns or None)
    for err in analysis.rule_errors:
        typer.echo(f"inferscope: warning: {err}", err=True)
    text = render(analysis, fmt, color=output is None and sys.stdout.isatty(), trace=t)
    if output is not None:
        write_atomic(output, text)
    else:
        sys.stdout.write(text)
