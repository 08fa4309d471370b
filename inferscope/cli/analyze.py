"""`inferscope analyze`: what limits this trace, ranked findings and what to do (a thin layer over Trace.analyze)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import QueryError, visible
from ._common import CacheDirOpt, NoCacheOpt, app, open_trace

# One trace, or several rank traces of one job (a fleet: cli/fleet.py)
TracesArg = Annotated[
    list[Path],
    typer.Argument(
        metavar="TRACE",
        help="Trace: bundle dir, .nsys-rep, nsys .sqlite/.arrows/parquetdir export, or PyTorch profiler .json[.gz]. "
        "Several traces, a directory with --fleet, or a quoted glob: the ranks of one job, analysed as a fleet.",
        show_default=False,
    ),
]


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


@app.command()
def analyze(
    traces: TracesArg,
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
    phase_pattern: Annotated[
        Optional[list[str]],
        typer.Option(
            "--phase-pattern",
            metavar="PHASE=REGEX",
            help="Ranges matching REGEX belong to PHASE (repeatable; replaces the prefill/decode "
            "defaults and [phases] in the configuration).",
            show_default=False,
        ),
    ] = None,
    evidence_rows: Annotated[
        int, typer.Option("--evidence-rows", metavar="N", min=0, help="Evidence rows per finding in JSON.")
    ] = 50,
    requests: Annotated[
        Optional[Path],
        typer.Option(
            "--requests",
            metavar="FILE",
            help="The load generator's per-request records (AIPerf profile_export.jsonl or GenAI-Perf "
            "profile_export.json) to join to the trace: TTFT/ITL per request against what the GPU did (serving "
            "section and findings). A bundle recorded with --requests joins its own file; this one overrides it.",
            show_default=False,
        ),
    ] = None,
    window: Annotated[
        Optional[str],
        typer.Option(
            "--window",
            metavar="START:END",
            help="Analyse only this part of the trace: times since the trace start with units, e.g. 1.5s:3s, "
            "200ms: or :10s. Events belong to the window they start in.",
            show_default=False,
        ),
    ] = None,
    skip_warmup: Annotated[
        bool,
        typer.Option(
            "--skip-warmup",
            help="Analyse each process from the end of its warm-up window (start-up work such as module loading, "
            "JIT compilation, handle creation, and leading long steps; see the cold_start rule).",
        ),
    ] = False,
    cache_dir: CacheDirOpt = None,
    no_cache: NoCacheOpt = False,
    fleet: Annotated[
        bool, typer.Option("--fleet", help="Analyse the traces (or a directory of them) as the ranks of one job.")
    ] = False,
    scheduler: Annotated[
        Optional[str],
        typer.Option(
            "--scheduler",
            metavar="ADDRESS",
            help="Fleet: run the ranks on this Dask scheduler (tcp://host:8786) instead of a local cluster; its "
            "workers must see the traces and --cache-dir at the same paths.",
            show_default=False,
        ),
    ] = None,
    workers: Annotated[
        Optional[int],
        typer.Option(
            "--workers",
            metavar="N",
            min=1,
            help="Fleet: local Dask worker processes (default: cores, at most 4).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Say what limits the trace, how much it costs and what to do: metrics and findings ranked by impact.

    Example: inferscope analyze run.nsys-rep -o report.html (or report.md, analysis.json)

    Several traces: inferscope analyze 'run/rank*.json.gz' (per-rank table, collective skew, the straggler)
    """
    from ..engine.window import parse_window

    from .fleet import run_fleet, wants_fleet

    parse_window(window)  # a malformed window is refused before any trace is read
    if wants_fleet(traces, fleet):
        if window is not None or skip_warmup:
            raise QueryError("--window and --skip-warmup apply to one trace; pass one trace without --fleet")
        if rules or param or step_pattern or phase_pattern or trust_config_rules:
            typer.echo(
                "inferscope: note: rules, parameters and patterns apply to one trace; a fleet ignores them", err=True
            )
        if requests is not None:
            raise QueryError("--requests joins one trace to its requests; pass one trace without --fleet")
        return run_fleet(traces, format, output, scheduler, workers, cache_dir, no_cache)
    if scheduler is not None or workers is not None:
        raise QueryError("--scheduler and --workers apply to several rank traces (a fleet); add --fleet")
    trace = traces[0]
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
    bundled = t.bundled_requests()
    if requests is not None:  # before the window, so that the requests are clipped with the trace
        t.attach_requests(requests)
        if bundled is not None:
            typer.echo(
                f"inferscope: note: requests from {visible(requests)} (--requests), not the bundle's own "
                f"{visible(bundled.name)}",
                err=True,
            )
    elif bundled is not None:
        used, problem = t.attach_bundled_requests()
        if used is not None:
            typer.echo(f"inferscope: note: requests from the bundle's own {visible(used)}", err=True)
        else:
            typer.echo(f"inferscope: warning: {visible(problem)}; analysed without requests", err=True)
    with t.window(window, skip_warmup) as used:  # the report's own queries see the same part of the trace
        analysis = t.analyze(
            rules_dirs=[str(r) for r in rules or []] + [str(d) for d in config_dirs],
            params=params,
            step_patterns=step_pattern or cfg.step_patterns or None,
            evidence_rows=evidence_rows,
            phase_patterns=parse_phase_patterns(phase_pattern or []) or cfg.phase_patterns or None,
            comm_patterns=cfg.comm_patterns or None,
            serving_patterns=cfg.serving_patterns or None,
        )
        if used is not None:
            analysis.window = used.to_dict()
            typer.echo(f"inferscope: note: analysed {visible(used.describe())}", err=True)
        _warn(t, analysis)
        text = render(analysis, fmt, color=output is None and sys.stdout.isatty(), trace=t)
    if output is not None:
        from ..outputs import write_text

        write_text(output, text)
    else:
        sys.stdout.write(text)


def _warn(t, analysis) -> None:
    """Rule errors, bundle warnings and left-out rows, on stderr where a script sees them."""
    for err in analysis.rule_errors:
        typer.echo(f"inferscope: warning: {visible(err)}", err=True)
    for key, value in sorted(t.meta.items()):  # an incomplete or damaged bundle is said where a script sees it
        if key.startswith("bundle.warning."):
            typer.echo(f"inferscope: warning: {visible(t.path)}: {visible(value)}", err=True)
    if analysis.data_quality:  # figures exclude these rows: say so once, the report has the breakdown
        total = sum(q["count"] for q in analysis.data_quality.values())
        parts = ", ".join(f"{k} {q['count']:,}" for k, q in sorted(analysis.data_quality.items()))
        typer.echo(
            f"inferscope: warning: {visible(t.path)}: {total:,} rows with impossible values left out ({parts}); "
            "see the report's Data quality block",
            err=True,
        )
