"""`inferscope.compare(base, new)`: did the new build get slower, beyond the threshold and beyond the noise?

Each compared quantity (see `samples`) gets one verdict:

* `unchanged`: the change is within the threshold (whatever the noise, it is too small to matter);
* `regression` / `improvement`: beyond the threshold in the bad / good direction of the metric's polarity, and
  the bootstrap interval of new/base excludes 1, so the run-to-run and step-to-step noise does not explain it.
  Each interval is taken at 1 - (1 - confidence) / k for k gated metrics (Bonferroni), so that with the default
  0.95 noise alone fails a build at most 5 % of the time, whether 3 or 300 kernels are gated;
* `within_noise`: beyond the threshold, but the interval includes 1;
* `inconclusive`: worse beyond the threshold with too few samples to tell (fewer than MIN_SAMPLES per side and
  fewer than MIN_RUNS repeats per side), e.g. a whole-trace number from single traces (better beyond the threshold
  with too few samples reads `within_noise`: an unconfirmed improvement is no gating question);

Changes are relative (new/base - 1), except for shares (unit pct): those move in percentage points, so with a 5 %
threshold a GPU-busy share must drop by 5 points, and an idle share of 0.66 % that becomes 0.56 % is unchanged.
* `added` / `removed`: present on one side only; `info`: a metric without polarity. These never gate.

Only gated metrics decide the outcome: those with a polarity, present on both sides, and standing for at least
`min_share` of the base (kernels: of kernel time; ranges: of the profiled window), so that a 2 us kernel cannot
fail a build.
"""
from __future__ import annotations

import fnmatch
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence, Union

import numpy as np

from ..errors import CompareError, InferScopeError
from .samples import FAMILIES, MetricDef, RunData, add_analysis_series, extract, gpus
from .stats import RatioEstimate, bootstrap_ratio, mann_whitney_u, seed_for, side_statistic

SHARE_UNITS = ("pct", "%")  # 0-100 shares: their threshold is in percentage points
SCHEMA_VERSION = "1"  # of the JSON form; removing or renaming a field bumps it
MIN_SAMPLES = 5
MIN_RUNS = 3
U_TEST_MIN = 8
GATING_ORDER = ("regression", "inconclusive", "improvement", "within_noise", "unchanged", "added", "removed", "info")

TraceLike = Union[str, Path, "Trace"]  # noqa: F821


@dataclass
class MetricComparison:
    """One compared quantity. Values are in `unit`; `ratio_low/high` bound new/base at the chosen confidence."""

    id: str
    label: str
    scope: str
    key: str
    device_id: int | None
    unit: str
    polarity: str
    description: str
    base_value: float | None
    new_value: float | None
    delta: float | None
    delta_pct: float | None
    ratio_low: float | None
    ratio_high: float | None
    u_test_p: float | None
    base_samples: int
    new_samples: int
    base_runs: int
    new_runs: int
    share: float | None
    gated: bool
    verdict: str
    reason: str

    @property
    def name(self) -> str:
        """What the row is about, for humans: the kernel or range name, or the metric label."""
        return self.key or self.label


@dataclass
class Side:
    """One side of the comparison: its traces and what they hold (lists are per trace)."""

    traces: list[str]
    formats: list[str]
    gpus: list[str]
    kernels: list[int]
    steps: list[int]
    window_ns: list[int]

    @property
    def runs(self) -> int:
        return len(self.traces)


@dataclass
class Comparison:
    base: Side
    new: Side
    threshold: float
    confidence: float  # family-wise: the chance that noise alone reports a regression is at most 1 - confidence
    metric_confidence: float  # the level of each metric's interval (Bonferroni over `tests`)
    tests: int  # gated metrics with enough data for an interval
    min_share: float
    strip_templates: bool
    metrics: list[MetricComparison]
    notes: list[str] = field(default_factory=list)

    def _gated(self, verdict: str) -> list[MetricComparison]:
        return [m for m in self.metrics if m.gated and m.verdict == verdict]

    @property
    def regressions(self) -> list[MetricComparison]:
        return self._gated("regression")

    @property
    def improvements(self) -> list[MetricComparison]:
        return self._gated("improvement")

    @property
    def inconclusive(self) -> list[MetricComparison]:
        return self._gated("inconclusive")

    @property
    def gated(self) -> list[MetricComparison]:
        return [m for m in self.metrics if m.gated]

    @property
    def verdict(self) -> str:
        """regression | inconclusive (no regression, but some gated metric could not be decided) | pass."""
        if self.regressions:
            return "regression"
        return "inconclusive" if self.inconclusive else "pass"

    def exit_code(self, fail_on_inconclusive: bool = False) -> int:
        """0 no regression, 1 regression beyond the threshold (or inconclusive, when asked to fail on it)."""
        if self.regressions or (fail_on_inconclusive and self.inconclusive):
            return 1
        return 0

    def to_dict(self) -> dict:
        """The JSON form (inferscope/schemas/compare-v1.schema.json)."""
        d = {"schema_version": SCHEMA_VERSION, **asdict(self)}
        d["verdict"] = self.verdict
        d["counts"] = {v: len(self._gated(v)) for v in GATING_ORDER}
        return d

    def to_json(self) -> str:
        from .render import to_json

        return to_json(self)

    def to_markdown(self, limit: int = 30) -> str:
        from .render import to_markdown

        return to_markdown(self, limit=limit)

    def to_junit(self) -> str:
        from .render import to_junit

        return to_junit(self)

    def github_annotations(self) -> str:
        from .render import github_annotations

        return github_annotations(self)


def _as_list(x, role: str) -> list:
    items = list(x) if isinstance(x, (list, tuple)) else [x]
    if not items:
        raise CompareError(f"no {role} trace given")
    return items


def _open(items: list, role: str, cache_dir, use_cache: bool) -> list:
    from ..trace import Trace, open_trace

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
    return Side([r.path for r in runs], [r.format for r in runs], sorted({g for r in runs for g in r.gpus}),
                [r.kernels for r in runs], [r.steps for r in runs], [r.window_ns for r in runs])


def _check_gpus(base: list[tuple[str, ...]], new: list[tuple[str, ...]], allow: bool, notes: list[str]) -> None:
    """Refuse different GPU models (between the sides, or among one side's repeats) before any real work."""
    for role, runs in (("base", base), ("new", new)):
        known = {g for g in runs if g}
        if len(known) > 1:
            models = " vs ".join(", ".join(g) for g in sorted(known))
            raise CompareError(f"the {role} traces ran on different GPUs ({models}); repeats must come from the "
                               "same GPU model")
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


def _measure(sid, d: MetricDef, b: list[np.ndarray], n: list[np.ndarray], share: float | None, *,
             min_share: float, resamples: int) -> tuple[MetricComparison, RatioEstimate | None]:
    """Values, change and noise estimate of one quantity; the verdict comes later (it needs the gated count)."""
    metric_id, scope, key, device_id = sid
    bs, ns = sum(len(r) for r in b), sum(len(r) for r in n)
    row = MetricComparison(metric_id, d.label, scope, key, device_id, d.unit, d.polarity, d.description,
                           side_statistic(b) if b else None, side_statistic(n) if n else None, None, None, None,
                           None, None, bs, ns, len(b), len(n), share, False, "info", "")
    if not b or not n:
        row.verdict, row.reason = ("added", "only in new") if n else ("removed", "only in base")
        return row, None
    bv, nv = row.base_value, row.new_value
    row.delta = nv - bv
    if bv == 0:
        row.verdict, row.reason = ("unchanged", "zero on both sides") if nv == 0 else ("added", "zero in base")
        return row, None
    row.delta_pct = 100.0 * row.delta / bv
    if d.polarity not in ("lower", "higher"):
        row.reason = "no polarity: shown, not gated"
        return row, None
    row.gated = share is None or share >= min_share
    row.verdict = "undecided"
    enough = min(bs, ns) >= MIN_SAMPLES or min(len(b), len(n)) >= MIN_RUNS
    estimate = bootstrap_ratio(b, n, resamples=resamples, seed=seed_for(repr(sid))) if enough else None
    return row, estimate


def _decide(row: MetricComparison, estimate: RatioEstimate | None, samples: tuple[list, list], *, threshold: float,
            level: float, min_share: float) -> None:
    """Verdict at the per-metric confidence `level` (see the module docstring)."""
    if estimate is not None:
        row.ratio_low, row.ratio_high = estimate.interval(level)
    if abs(row.delta_pct) > 100.0 * threshold and min(row.base_samples, row.new_samples) >= U_TEST_MIN:
        row.u_test_p = mann_whitney_u(np.concatenate(samples[0]), np.concatenate(samples[1]))[1]
    # shares (unit pct, 0-100) move in percentage points: idle going from 0.66 % to 0.56 % is not a 15 % change
    points = row.unit in SHARE_UNITS
    change = row.delta if points else row.delta_pct
    bad = change if row.polarity == "lower" else -change
    unit = " points" if points else " %"
    pct_t = 100.0 * threshold
    how = f"{'worse' if bad > 0 else 'better'} by {abs(bad):.1f}{unit}"
    interval = (f"{100 * level:.4g} % interval of new/base {row.ratio_low:.3f}-{row.ratio_high:.3f}"
                if estimate is not None else "")
    if abs(bad) <= pct_t:
        row.verdict, row.reason = "unchanged", f"within ±{pct_t:g}{unit}"
    elif estimate is None:
        # only a possible regression is a gating question; a possible improvement is merely unconfirmed
        row.verdict = "inconclusive" if bad > 0 else "within_noise"
        row.reason = (f"{how}, but {row.base_samples} vs {row.new_samples} samples from {row.base_runs} vs "
                      f"{row.new_runs} trace(s) cannot tell it from noise: need {MIN_SAMPLES} samples or "
                      f"{MIN_RUNS} repeats a side")
    elif math.isnan(row.ratio_low) or row.ratio_low <= 1.0 <= row.ratio_high:
        row.verdict = "within_noise"
        row.reason = f"{how}, but the {interval} includes no change"
    else:
        row.verdict = "regression" if bad > 0 else "improvement"
        row.reason = f"{how} (> {pct_t:g}{unit}); {interval}"
    if not row.gated and row.verdict != "unchanged":
        row.reason += f"; not gated: {row.share:.2%} of the base, below the {min_share:.2%} minimum share"


def _order(m: MetricComparison) -> tuple:
    impact = abs(m.delta_pct or 0.0) * (m.share if m.share is not None else 1.0)
    return (not m.gated, GATING_ORDER.index(m.verdict), -impact, m.id, m.key)


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
        raise CompareError(f"nothing to compare: the {empty[0]} trace has no kernels, ranges or steps "
                           f"(base: {holds(base)}; new: {holds(new)})")
    raise CompareError(f"no kernel, range or step in common (base: {holds(base)}; new: {holds(new)}); if names "
                       "differ only in template arguments or hashes, add --strip-templates")


def compare(base: TraceLike | Sequence[TraceLike], new: TraceLike | Sequence[TraceLike], *,
            threshold: float = 0.05, metrics: Sequence[str] | None = None, strip_templates: bool = False,
            min_share: float = 0.005, confidence: float = 0.95, allow_different_gpus: bool = False,
            analysis_metrics: bool = True, step_patterns: Sequence[str] | None = None,
            phase_patterns: dict[str, list[str]] | None = None, cache_dir: str | Path | None = None,
            use_cache: bool = True, resamples: int = 1000) -> Comparison:
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
        row, est = _measure(sid, defs[sid[0]], b, n, share, min_share=min_share, resamples=resamples)
        measured.append((row, est, (b, n)))
    # Bonferroni: with k gated metrics each interval is taken at 1 - (1 - confidence) / k, so that noise alone
    # fails a build with probability at most 1 - confidence however many kernels are gated.
    tests = sum(1 for row, est, _ in measured if row.gated and est is not None)
    level = 1.0 - (1.0 - confidence) / max(tests, 1)
    for row, est, samples in measured:
        if row.verdict == "undecided":
            _decide(row, est, samples, threshold=threshold, level=level, min_share=min_share)
    rows = [row for row, _, _ in measured]
    if metrics and not rows:
        known = ", ".join(sorted({sid[0] for r in b_runs + n_runs for sid in r.series}))
        raise CompareError(f"no metric matches {', '.join(metrics)}; metric ids here: {known}")
    if not metrics:
        _check_common(rows, b_runs, n_runs)
    elif not any(r.base_runs and r.new_runs for r in rows):
        raise CompareError(f"no metric matching {', '.join(metrics)} is present in both base and new")
    rows.sort(key=_order)
    _notes(notes, rows, b_runs, n_runs, strip_templates)
    return Comparison(_side(b_runs), _side(n_runs), threshold, confidence, level, tests, min_share,
                      strip_templates, rows, notes)


def _notes(notes: list[str], rows: list[MetricComparison], base: list[RunData], new: list[RunData],
           strip: bool) -> None:
    bf, nf = {r.format for r in base}, {r.format for r in new}
    if bf != nf:
        notes.append(f"formats differ ({', '.join(sorted(bf))} vs {', '.join(sorted(nf))}): profilers spell kernel "
                     "names differently" + ("" if strip else "; --strip-templates matches more of them"))
    if not any(r.steps for r in base) or not any(r.steps for r in new):
        notes.append("no profiler steps (ProfilerStep#N ranges) on both sides: kernels and ranges are compared per "
                     "instance, step metrics are left out")
    bw = np.mean([r.window_ns for r in base]) or 0
    nw = np.mean([r.window_ns for r in new]) or 0
    if bw and nw and abs(nw / bw - 1) > 0.1:
        notes.append(f"the profiled windows differ in length ({bw / 1e9:.3g} s vs {nw / 1e9:.3g} s); every metric is "
                     "per instance or per step, so this alone does not read as a change")
    for verdict, where in (("added", "new"), ("removed", "base")):
        kinds = {}
        for r in rows:
            if r.verdict == verdict and r.id in ("kernel_mean_ns", "range_mean_ns"):
                kinds[r.id] = kinds.get(r.id, 0) + 1
        if kinds:
            parts = [f"{n} {'kernels' if k == 'kernel_mean_ns' else 'ranges'}" for k, n in kinds.items()]
            notes.append(f"{' and '.join(parts)} only in {where}")
    if len(base) == 1 or len(new) == 1:
        notes.append("single trace on a side: the noise measured is the spread between steps and instances within "
                     "a run; run-to-run variation (clocks, placement, neighbours) needs repeats: --base a1 a2 a3 "
                     "--new b1 b2 b3")
    if strip:
        notes.append("names matched with template arguments, parameter lists and hashes stripped")
