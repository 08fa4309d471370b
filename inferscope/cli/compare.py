"""`inferscope compare`: the CI regression gate (exit 0 no regression, 1 regression, 2 bad input)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from typer.core import TyperCommand

from ..errors import CompareError
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


def _write_atomic(path: Path, text: str) -> None:
    from ..outputs import atomic_write, say_written

    path = path.expanduser()
    with atomic_write(path) as fh:
        fh.write(text.encode("utf-8"))
    say_written(path)


def _emit(result, format: str, output: Path | None, junit: Path | None) -> None:
    from ..render import compare as shown

    if junit is not None:
        _write_atomic(junit, shown.to_junit(result))
    report = shown.to_json(result) if format == "json" else shown.to_markdown(result)
    if format == "github":
        sys.stdout.write(shown.github_annotations(result))
        summary = os.environ.get("GITHUB_STEP_SUMMARY")
        if summary and output is None:
            with open(summary, "a", encoding="utf-8") as f:
                f.write(report + "\n")
            report = ""
    if output is not None:
        _write_atomic(output, report)
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
            "kernel_calls_per_step, range_mean_ns, step_kernel_time_ns, analysis metric ids.",
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
            "--allow-different-gpus/--same-gpus",
            help="Compare traces from different GPU models instead of refusing."
            + _FROM_CONFIG.format("allow_different_gpus", "refuse"),
            show_default=False,
        ),
    ] = None,
    fail_on_inconclusive: Annotated[
        Optional[bool],
        typer.Option(
            "--fail-on-inconclusive/--pass-inconclusive",
            help="Exit 1 when a gated metric cannot be decided for "
            "lack of data." + _FROM_CONFIG.format("fail_on_inconclusive", "pass"),
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
    cache_dir: CacheDirOpt = None,
    no_cache: NoCacheOpt = False,
) -> None:
    """Compare a new build's traces against a base and fail on a performance regression.

    Exit codes: 0 no regression, 1 regression beyond the threshold and the noise, 2 bad input or traces that
    cannot be compared (different GPU models, nothing in common). Options left out come from the compare
    section of the configuration file or INFERSCOPE_COMPARE__* variables (`inferscope config` shows them).

    Example: inferscope compare --base main1.nsys-rep main2.nsys-rep main3.nsys-rep --new pr1.nsys-rep pr2.nsys-rep pr3.nsys-rep --threshold 5% --format github --junit compare.xml
    """
    from ..comparison import compare as run_compare
    from ..config import load_config
    from ..outputs import format_for_suffix

    base_list, new_list = _traces(list(traces or []), base, new)
    if format is None:
        format = format_for_suffix(output, _SUFFIXES) if output is not None else "md"
    if format not in ("md", "json", "github"):
        raise CompareError(f"unknown format {format!r}; use md, json or github")
    for target in (junit, output):
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
        allow_different_gpus=pick(allow_different_gpus, "allow_different_gpus"),
        analysis_metrics=not no_analysis_metrics,
        step_patterns=step_pattern or cfg.step_patterns,
        phase_patterns=cfg.phase_patterns or None,
        cache_dir=cache_dir,
        use_cache=not no_cache,
    )
    _emit(result, format, output, junit)
    raise typer.Exit(result.exit_code(pick(fail_on_inconclusive, "fail_on_inconclusive")))
