"""`inferscope.compare(base, new)`: open both sides' traces, judge every quantity they hold, gate the build.

The orchestration: checks that the sides can be compared (same GPU model, something in common), collects each
quantity's samples per trace (`samples`), has `verdict` judge each one at a Bonferroni-corrected level, and
returns a `result.Comparison` with notes on what the reader should know. The verdict rules are in `verdict`.
"""

from __future__ import annotations

import fnmatch
from pathlib import Path
from typing import Sequence, Union

import numpy as np

from ..errors import CompareError, InferScopeError
from .result import GATING_ORDER, SCHEMA_VERSION, Comparison, MetricComparison, Side, row_order
from .samples import FAMILIES, MetricDef, RunData, add_analysis_series, extract, gpus
from .verdict import MIN_RUNS, MIN_SAMPLES, SHARE_UNITS, U_TEST_MIN, decide, measure

__all__ = [
    "GATING_ORDER",
    "MIN_RUNS",
    "MIN_SAMPLES",
    "SCHEMA_VERSION",
    "SHARE_UNITS",
    "U_TEST_MIN",
    "Comparison",
    "MetricComparison",
    "Side",
    "TraceLike",
    "compare",
]

TraceLike = Union[str, Path, "Trace"]  # noqa: F821


def _as_list(x, role: str) -> list:
    items = list(x) if isinstance(x, (list, tuple)) else [x]
    if not items:
        raise CompareError(f"no {role} trace given")
    return items


def _open(items: list, role: str, cache_dir, use_cache: bool) -> list:
    from ..engine.trace import Trace, open_trace

    out = []
    for item in items:
        if isinstance(item, Trace):
            out.append(item)
            continue
        try:
            out.append(open_trace(item, cache_dir=cache_dir, use_cache=use_cache, progress=False))
        except InferScopeError as exc:
            raise type(exc)(f"{role}: {exc}") from exc
    return out


def _side(runs: list[RunData]) -> Side:
    return Side(
        [r.path for r in runs],
        [r.format for r in runs],
        sorted({g for r in runs for g in r.gpus}),
        [r.kernels for r in runs],
        [r.steps for r in runs],
        [r.window_ns for r in runs],
    )


def _check_gpus(base: list[tuple[str, ...]], new: list[tuple[str, ...]], allow: bool, notes: list[str]) -> None:
    """Refuse different GPU models (between the sides, or among one side's repeats) before any real work."""
    for role, runs in (("base", base), ("new", new)):
        known = {g for g in runs if g}
        if len(known) > 1:
            models = " vs ".join(", ".join(g) for g in sorted(known))
            raise CompareError(
                f"the {role} traces ran on different GPUs ({models}); repeats must come from the same GPU model"
            )
    bg = {g for run in base for g in run}
    ng = {g for run in new for g in run}
    if not bg or not ng:
        missing = " and ".join(role for role, g in (("base", bg), ("new", ng)) if not g)
        notes.append(f"GPU model not recorded in the {missing} trace(s): not checked")
    elif bg != ng:
        msg = f"different GPUs: base ran on {', '.join(sorted(bg))}, new on {', '.join(sorted(ng))}"
        if not allow:
            raise CompareError(msg + "; pass --allow-different-gpus to compare anyway")
        notes.append(msg + " (compared anyway: --allow-different-gpus)")


def _defs(runs: list[RunData]) -> dict[str, MetricDef]:
    defs = dict(FAMILIES)
    for r in runs:
        for k, v in r.defs.items():
            defs.setdefault(k, v)
    return defs


def _matches(metric_id: str, patterns: Sequence[str] | None) -> bool:
    if not patterns:
        return True
    bare = metric_id.removeprefix("metric:")
    return any(fnmatch.fnmatchcase(metric_id, p) or fnmatch.fnmatchcase(bare, p) for p in patterns)


def _check_common(rows: list[MetricComparison], base: list[RunData], new: list[RunData]) -> None:
    structural = [r for r in rows if r.id in FAMILIES]
    if any(r.base_runs and r.new_runs for r in structural):
        return

    def holds(runs: list[RunData]) -> str:
        r = runs[0]
        return f"{r.kernels} kernel executions, {r.ranges} ranges, {r.steps} steps"

    empty = [role for role, runs in (("base", base), ("new", new)) if not any(r.kernels or r.ranges for r in runs)]
    if len(empty) == 2:
        raise CompareError("neither side has kernels, ranges or steps to compare")
    if empty:
        raise CompareError(
            f"nothing to compare: the {empty[0]} trace has no kernels, ranges or steps "
            f"(base: {holds(base)}; new: {holds(new)})"
        )
    raise CompareError(
        f"no kernel, range or step in common (base: {holds(base)}; new: {holds(new)}); if names "
        "differ only in template arguments or hashes, add --strip-templates"
    )


def compare(
    base: TraceLike | Sequence[TraceLike],
    new: TraceLike | Sequence[TraceLike],
    *,
    threshold: float = 0.05,
    metrics: Sequence[str] | None = None,
    strip_templates: bool = False,
    min_share: float = 0.005,
    confidence: float = 0.95,
    allow_different_gpus: bool = False,
    analysis_metrics: bool = True,
    step_patterns: Sequence[str] | None = None,
    phase_patterns: dict[str, list[str]] | None = None,
    cache_dir: str | Path | None = None,
    use_cache: bool = True,
    resamples: int = 1000,
) -> Comparison:
    """Compare a new build's trace(s) against a base: per-step, per-kernel, per-range and analysis metrics.

    `base` and `new` are each a path, an opened Trace, or a list of them (repeats of the same run: more repeats,
    tighter noise estimate). `threshold` is the relative change that counts (0.05 = 5 %); `metrics` limits the
    comparison to metric ids matching these glob patterns; `analysis_metrics=False` skips the analysis engine's
    metrics (the slow part on big traces); `step_patterns` (regular expressions) name the step ranges instead of
    the analysis engine's defaults; `phase_patterns` ({phase: [regex, ...]}) name the phases of the per-phase
    metrics instead of the built-in prefill/decode patterns. Raises CompareError when the traces cannot be
    compared (different GPU models unless allow_different_gpus, nothing in common) and TraceInputError for unreadable input.
    """
    if not 0 < threshold < 1:
        raise CompareError(f"threshold {threshold:g} is out of range; give a fraction such as 0.05 (5 %)")
    if not 0.5 <= confidence < 1:
        raise CompareError(f"confidence {confidence:g} is out of range; use e.g. 0.95")
    base_items, new_items = _as_list(base, "base"), _as_list(new, "new")
    base_traces = _open(base_items, "base", cache_dir, use_cache)
    new_traces = _open(new_items, "new", cache_dir, use_cache)
    notes: list[str] = []
    _check_gpus([gpus(t) for t in base_traces], [gpus(t) for t in new_traces], allow_different_gpus, notes)
    patterns = list(step_patterns) if step_patterns else None
    phases = dict(phase_patterns) if phase_patterns else None
    b_runs = [extract(t, strip_templates, analysis_metrics, patterns, phases) for t in base_traces]
    n_runs = [extract(t, strip_templates, analysis_metrics, patterns, phases) for t in new_traces]
    per_step = all(r.steps for r in b_runs + n_runs)
    for r in b_runs + n_runs:
        add_analysis_series(r, per_step)
    defs = _defs(b_runs + n_runs)
    ids = sorted({sid for r in b_runs + n_runs for sid in r.series}, key=repr)
    measured = []
    for sid in ids:
        if not _matches(sid[0], metrics):
            continue
        b = [r.series[sid] for r in b_runs if sid in r.series]
        n = [r.series[sid] for r in n_runs if sid in r.series]
        shares = [r.shares[sid] for r in b_runs if sid in r.shares]
        share = float(np.mean(shares)) if shares else None
        row, est = measure(sid, defs[sid[0]], b, n, share, min_share=min_share, resamples=resamples)
        measured.append((row, est, (b, n)))
    # Bonferroni: with k gated metrics each interval is taken at 1 - (1 - confidence) / k, so that noise alone
    # fails a build with probability at most 1 - confidence however many kernels are gated.
    tests = sum(1 for row, est, _ in measured if row.gated and est is not None)
    level = 1.0 - (1.0 - confidence) / max(tests, 1)
    for row, est, samples in measured:
        if row.verdict == "undecided":
            decide(row, est, samples, threshold=threshold, level=level, min_share=min_share)
    rows = [row for row, _, _ in measured]
    if metrics and not rows:
        known = ", ".join(sorted({sid[0] for r in b_runs + n_runs for sid in r.series}))
        raise CompareError(f"no metric matches {', '.join(metrics)}; metric ids here: {known}")
    if not metrics:
        _check_common(rows, b_runs, n_runs)
    elif not any(r.base_runs and r.new_runs for r in rows):
        raise CompareError(f"no metric matching {', '.join(metrics)} is present in both base and new")
    rows.sort(key=row_order)
    _notes(notes, rows, b_runs, n_runs, strip_templates)
    return Comparison(
        _side(b_runs), _side(n_runs), threshold, confidence, level, tests, min_share, strip_templates, rows, notes
    )


def _notes(
    notes: list[str], rows: list[MetricComparison], base: list[RunData], new: list[RunData], strip: bool
) -> None:
    bf, nf = {r.format for r in base}, {r.format for r in new}
    if bf != nf:
        notes.append(
            f"formats differ ({', '.join(sorted(bf))} vs {', '.join(sorted(nf))}): profilers spell kernel "
            "names differently" + ("" if strip else "; --strip-templates matches more of them")
        )
    if not any(r.steps for r in base) or not any(r.steps for r in new):
        notes.append(
            "no profiler steps (ProfilerStep#N ranges) on both sides: kernels and ranges are compared per "
            "instance, step metrics are left out"
        )
    bw = np.mean([r.window_ns for r in base]) or 0
    nw = np.mean([r.window_ns for r in new]) or 0
    if bw and nw and abs(nw / bw - 1) > 0.1:
        notes.append(
            f"the profiled windows differ in length ({bw / 1e9:.3g} s vs {nw / 1e9:.3g} s); every metric is "
            "per instance or per step, so this alone does not read as a change"
        )
    for verdict, where in (("added", "new"), ("removed", "base")):
        kinds = {}
        for r in rows:
            if r.verdict == verdict and r.id in ("kernel_mean_ns", "range_mean_ns"):
                kinds[r.id] = kinds.get(r.id, 0) + 1
        if kinds:
            parts = [f"{n} {'kernels' if k == 'kernel_mean_ns' else 'ranges'}" for k, n in kinds.items()]
            notes.append(f"{' and '.join(parts)} only in {where}")
    if len(base) == 1 or len(new) == 1:
        notes.append(
            "single trace on a side: the noise measured is the spread between steps and instances within "
            "a run; run-to-run variation (clocks, placement, neighbours) needs repeats: --base a1 a2 a3 "
            "--new b1 b2 b3"
        )
    if strip:
        notes.append("names matched with template arguments, parameter lists and hashes stripped")
