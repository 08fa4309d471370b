"""`inferscope compare`: the CI regression gate (exit 0 no regression, 1 regression, 2 bad input or not
comparable: a GPU model or count change that was not declared with --allow-hardware-change)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from typer.core import TyperCommand

from ..errors import CompareError, visible
from ._common import CacheDirOpt, NoCacheOpt, app

_LIST_OPTIONS = ("--base", "--new")


class _GreedyListCommand(TyperCommand):
    """Lets `--base a1 a2 a3 --new b1 b2 b3` work: click options take one value, so each following bare word is
    rewritten into its own `--base WORD` before parsing."""

    def parse_args(self, ctx, args):
        out: list[str] = []
        current, empty = None, False  # empty: the list option has had no word yet
        for arg in args:
            if arg in _LIST_OPTIONS:
                if empty:  # left bare so that click reports the option's missing value
                    out.append(current)
                current, empty = arg, True
                continue
            if current and not arg.startswith("-"):
                out += [current, arg]
                empty = False
                continue
            if empty:
                out.append(current)
            current, empty = None, False
            out.append(arg)
        if empty:
            out.append(current)
        return super().parse_args(ctx, out)


def parse_fraction(text: str, what: str) -> float:
    """'5%' or '0.05' -> 0.05; a bare number of 1 or more is refused rather than guessed."""
    t = text.strip()
    try:
        value = float(t[:-1]) / 100 if t.endswith("%") else float(t)
    except ValueError:
        raise CompareError(f"{what} {text!r} is not a number; write e.g. 5% or 0.05") from None
    if not t.endswith("%") and value >= 1:
        raise CompareError(f"{what} {text!r} is ambiguous; write {t}% or {value / 100:g}")
    return value


def _emit(result, format: str, output: Path | None, junit: Path | None) -> None:
    from ..outputs import write_text
    from ..render import compare as shown

    if junit is not None:
        write_text(junit, shown.to_junit(result))
    report = shown.to_json(result) if format == "json" else shown.to_markdown(result)
    if format == "github":
        sys.stdout.write(shown.github_annotations(result))
        summary = os.environ.get("GITHUB_STEP_SUMMARY")
        if summary and output is None:
            with open(summary, "a", encoding="utf-8") as f:
                f.write(report + "\n")
            report = ""
    if output is not None:
        write_text(output, report)
    elif report:
        sys.stdout.write(report)


def _traces(positional: list[Path], base: list[Path] | None, new: list[Path] | None) -> tuple[list, list]:
    if len(positional) not in (0, 2) or (len(positional) == 2 and (base or new)):
        raise CompareError("give BASE NEW, or --base TRACE... --new TRACE... (not both)")
    base_list = positional[:1] or list(base or [])
    new_list = positional[1:] or list(new or [])
    for role, items in (("base", base_list), ("new", new_list)):
        if not items:
            raise CompareError(f"no {role} trace given; usage: inferscope compare BASE NEW")
    return base_list, new_list


_SUFFIXES = {".md": "md", ".markdown": "md", ".json": "json"}
_FROM_CONFIG = " Default: compare.{} of the configuration, else {}."


@app.command(cls=_GreedyListCommand)
def compare(
    traces: Annotated[
        Optional[list[Path]],
        typer.Argument(metavar="[BASE NEW]", show_default=False, help="One trace each (or use --base/--new)."),
    ] = None,
    base: Annotated[
        Optional[list[Path]],
        typer.Option(
            "--base", metavar="TRACE", help="Base trace(s); repeats of one run: --base a1 a2 a3.", show_default=False
        ),
    ] = None,
    new: Annotated[
        Optional[list[Path]],
        typer.Option("--new", metavar="TRACE", help="New trace(s): --new b1 b2 b3.", show_default=False),
    ] = None,
    threshold: Annotated[
        Optional[str],
        typer.Option(
            metavar="PCT",
            help="Relative change that counts as a regression (5% or 0.05)." + _FROM_CONFIG.format("threshold", "5%"),
            show_default=False,
        ),
    ] = None,
    metric: Annotated[
        Optional[list[str]],
        typer.Option(
            "--metric",
            metavar="GLOB",
            help="Compare only metric ids "
            "matching this glob (repeatable): step_time_ns, kernel_mean_ns, kernel_time_per_step_ns, "
            "kernel_calls_per_step, range_mean_ns, step_kernel_time_ns, request_ttft_p99_ns and the other "
            "request_* ids, analysis metric ids.",
            show_default=False,
        ),
    ] = None,
    format: Annotated[
        Optional[str],
        typer.Option(
            "--format",
            "-f",
            metavar="FORMAT",
            help="md, json or github "
            "(Markdown to $GITHUB_STEP_SUMMARY, ::error:: annotations to stdout). Default: from the -o "
            "suffix (.md, .json), else md.",
            show_default=False,
        ),
    ] = None,
    junit: Annotated[
        Optional[Path],
        typer.Option(
            metavar="FILE", help="Also write JUnit XML here (one test case per gated metric).", show_default=False
        ),
    ] = None,
    output: Annotated[
        Optional[Path],
        typer.Option(
            "--output", "-o", metavar="FILE", help="Write the report here instead of stdout.", show_default=False
        ),
    ] = None,
    strip_templates: Annotated[
        Optional[bool],
        typer.Option(
            "--strip-templates/--keep-templates",
            help="Match kernel and range names without template arguments, "
            "parameter lists and hashes." + _FROM_CONFIG.format("strip_templates", "keep"),
            show_default=False,
        ),
    ] = None,
    min_share: Annotated[
        Optional[str],
        typer.Option(
            metavar="PCT",
            help="Kernels/ranges below this share of the base are shown but do not gate."
            + _FROM_CONFIG.format("min_share", "0.5%"),
            show_default=False,
        ),
    ] = None,
    confidence: Annotated[
        Optional[float],
        typer.Option(
            metavar="P",
            help="Family-wise confidence: noise alone fails at most 1 - this share of builds (intervals are "
            "Bonferroni-adjusted)." + _FROM_CONFIG.format("confidence", "0.95"),
            show_default=False,
        ),
    ] = None,
    allow_different_gpus: Annotated[
        Optional[bool],
        typer.Option(
            "--allow-hardware-change/--same-hardware",
            "--allow-different-gpus/--same-gpus",
            help="A GPU model or count change is intended: compare anyway and say so (otherwise the result is "
            "'not comparable', exit 2)." + _FROM_CONFIG.format("allow_different_gpus", "not comparable"),
            show_default=False,
        ),
    ] = None,
    fail_on_inconclusive: Annotated[
        Optional[bool],
        typer.Option(
            "--fail-on-inconclusive/--pass-inconclusive",
            help="Exit 1 when a gated metric may be worse beyond the threshold but the data cannot decide it."
            + _FROM_CONFIG.format("fail_on_inconclusive", "pass"),
            show_default=False,
        ),
    ] = None,
    no_analysis_metrics: Annotated[
        bool, typer.Option("--no-analysis-metrics", help="Skip the analysis engine's metrics (faster on big traces).")
    ] = False,
    step_pattern: Annotated[
        Optional[list[str]],
        typer.Option(
            "--step-pattern",
            metavar="REGEX",
            help="Regular "
            "expression naming the step ranges (repeatable), as analyze takes it. Default: "
            "steps.patterns of the configuration, else the analysis engine's list (ProfilerStep#N "
            "first).",
            show_default=False,
        ),
    ] = None,
    config: Annotated[
        Optional[Path],
        typer.Option(
            "--config",
            metavar="FILE",
            help="Configuration file to read instead of the inferscope.toml / pyproject.toml found upward.",
            show_default=False,
        ),
    ] = None,
    window: Annotated[
        Optional[str],
        typer.Option(
            "--window",
            metavar="START:END",
            help="Compare only this part of every trace: times since each trace's start with units, e.g. 1.5s:3s, "
            "200ms: or :10s.",
            show_default=False,
        ),
    ] = None,
    skip_warmup: Annotated[
        bool,
        typer.Option(
            "--skip-warmup", help="Compare each process from the end of its warm-up window (see the cold_start rule)."
        ),
    ] = False,
    base_requests: Annotated[
        Optional[list[Path]],
        typer.Option(
            "--base-requests",
            metavar="FILE",
            help="The base's load-generator request file (AIPerf profile_export.jsonl or GenAI-Perf "
            "profile_export.json): one for all base traces "
            "or one per trace, repeated in order. With --new-requests, TTFT, inter-token latency (p50, p99) and "
            "output tokens/s gate too.",
            show_default=False,
        ),
    ] = None,
    new_requests: Annotated[
        Optional[list[Path]],
        typer.Option(
            "--new-requests",
            metavar="FILE",
            help="The new side's request file(s), given as the base's are.",
            show_default=False,
        ),
    ] = None,
    fleet: Annotated[
        bool,
        typer.Option(
            "--fleet",
            help="BASE and NEW are fleets: each the rank traces of one job (a directory, a quoted glob, files after "
            "--base/--new) or one fleet JSON from `analyze RANK_TRACES... -f json`. The job's step time gates; the "
            "ranks explain it.",
        ),
    ] = False,
    scheduler: Annotated[
        Optional[str],
        typer.Option(
            "--scheduler",
            metavar="ADDRESS",
            help="--fleet: run the ranks on this Dask scheduler instead of a local cluster (as analyze).",
            show_default=False,
        ),
    ] = None,
    workers: Annotated[
        Optional[int],
        typer.Option("--workers", metavar="N", min=1, help="--fleet: local Dask worker processes.", show_default=False),
    ] = None,
    save_base: Annotated[
        Optional[Path],
        typer.Option(
            "--save-base",
            metavar="FILE",
            help="Also save the base side's samples here as a baseline (Parquet), which a later compare takes as "
            "BASE in place of the traces.",
            show_default=False,
        ),
    ] = None,
    save_new: Annotated[
        Optional[Path],
        typer.Option(
            "--save-new",
            metavar="FILE",
            help="Also save the new side's samples here as a baseline: the next run's BASE once this one is merged.",
            show_default=False,
        ),
    ] = None,
    cache_dir: CacheDirOpt = None,
    no_cache: NoCacheOpt = False,
) -> None:
    """Compare a new build's traces against a base and fail on a performance regression.

    The primary metrics gate (step time, throughput, GPU time per step, per-call time of the kernels that make
    up most of the GPU time; with request files on both sides, TTFT and inter-token latency p50/p99 and output
    tokens/s); everything else explains them. Exit codes: 0 no regression (improvements
    included), 1 regression beyond the threshold and the noise, 2 bad input, or not comparable (GPU model or
    count changed without --allow-hardware-change; the report is still written). Options left out come from the
    compare section of the configuration file or INFERSCOPE_COMPARE__* variables (`inferscope config`).

    BASE (or NEW) may also be a baseline saved with --save-base or --save-new: a small file of that side's samples
    that compares as its traces would.

    Example: inferscope compare --base main1.nsys-rep main2.nsys-rep main3.nsys-rep --new pr1.nsys-rep pr2.nsys-rep pr3.nsys-rep --threshold 5% --format github --junit compare.xml
    """
    from ..comparison import compare as run_compare
    from ..config import load_config
    from ..outputs import format_for_suffix

    from ..engine.window import parse_window

    parse_window(window)  # a malformed window is refused before any trace is read
    base_list, new_list = _traces(list(traces or []), base, new)
    if fleet:
        from .fleet import run_fleet_compare

        refused = [
            name
            for name, value in (
                ("--window", window),
                ("--skip-warmup", skip_warmup),
                ("--base-requests", base_requests),
                ("--new-requests", new_requests),
                ("--junit", junit),
                ("--no-cache", no_cache),
                ("--save-base", save_base),
                ("--save-new", save_new),
            )
            if value
        ]
        if refused:
            raise CompareError(f"{refused[0]} does not apply to --fleet (two fleets gate on the job's step time)")
        cfg = load_config(config_file=config)
        fleet_threshold = threshold if threshold is not None else cfg.compare["threshold"]
        hardware = cfg.compare["allow_different_gpus"] if allow_different_gpus is None else allow_different_gpus
        code = run_fleet_compare(
            base_list,
            new_list,
            threshold=parse_fraction(str(fleet_threshold), "threshold"),
            fmt=format,
            output=output,
            allow_world_size_change=hardware,
            scheduler=scheduler,
            workers=workers,
            cache_dir=cache_dir,
        )
        raise typer.Exit(code)
    if scheduler is not None or workers is not None:
        raise CompareError("--scheduler and --workers apply to fleets; add --fleet")
    if format is None:
        format = format_for_suffix(output, _SUFFIXES) if output is not None else "md"
    if format not in ("md", "json", "github"):
        raise CompareError(f"unknown format {format!r}; use md, json or github")
    if save_base is not None and save_base == save_new:
        raise CompareError(f"--save-base and --save-new both name {save_base}; give each side its own file")
    for target in (junit, output, save_base, save_new):
        if target is not None and not target.expanduser().parent.is_dir():
            raise CompareError(f"{target}: directory {target.expanduser().parent} does not exist")
    cfg = load_config(config_file=config)
    gate = cfg.compare

    def pick(value, key):
        return gate[key] if value is None else value

    result = run_compare(
        base_list,
        new_list,
        threshold=parse_fraction(str(pick(threshold, "threshold")), "threshold"),
        metrics=metric or gate["metrics"] or None,
        strip_templates=pick(strip_templates, "strip_templates"),
        min_share=parse_fraction(str(pick(min_share, "min_share")), "min-share"),
        confidence=pick(confidence, "confidence"),
        allow_hardware_change=pick(allow_different_gpus, "allow_different_gpus"),
        analysis_metrics=not no_analysis_metrics,
        step_patterns=step_pattern or cfg.step_patterns,
        phase_patterns=cfg.phase_patterns or None,
        comm_patterns=cfg.comm_patterns or None,
        serving_patterns=cfg.serving_patterns or None,
        cache_dir=cache_dir,
        use_cache=not no_cache,
        window=window,
        skip_warmup=skip_warmup,
        base_requests=base_requests or None,
        new_requests=new_requests or None,
        save_base=save_base,
        save_new=save_new,
    )
    from ..outputs import say_written

    for saved in (save_base, save_new):
        if saved is not None:
            say_written(saved.expanduser())
    _emit(result, format, output, junit)
    if not result.comparable:
        sys.stderr.write(f"inferscope: not comparable: {visible(result.summary)}\n")  # GPU names come from the traces
    raise typer.Exit(result.exit_code(pick(fail_on_inconclusive, "fail_on_inconclusive")))
