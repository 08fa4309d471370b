"""The verdict of one compared quantity: did it change beyond the threshold, and does the noise say so too?

Each compared quantity (see `samples`) is either *primary* (it gates: step time, throughput, GPU time per step,
per-call time of the kernels that make up most of the GPU time, or whatever `--metric` names) or *explanation*
(everything else: shown and ranked by how much of the step-time change it accounts for, never gating).

Primary rows, with the change c (new/base - 1, in %; shares in percentage points), its interval [lo, hi] at the
Bonferroni-adjusted level, and the threshold t:

* `regression`: worse than t, and the interval excludes no change (the noise does not explain it);
* `improvement`: better than t, and the interval excludes no change;
* `unchanged`: the change is within ±t;
* `inconclusive`: the change is beyond t but the interval reaches across no change (it straddles the
  threshold and zero); the reason says how many more steps, calls or runs a side would decide it. Only an inconclusive
  *worsening* makes the outcome inconclusive; an undecided improvement does not gate;
* `added` / `removed`: present on one side only (a kernel mix change: reported as work changed).

Explanation rows read `worse` / `better` / `unchanged` from the change alone (beyond ±t or not), with the
interval beside it when there is one, so that a label never contradicts its number.

So a label always agrees with the numbers beside it: "+12474 %" is never "unchanged", and "-20 % [-22, -18]"
is "improvement". Shares move in percentage points: a GPU-busy share must move by 5 points at a 5 % threshold.
"""

from __future__ import annotations

import math

import numpy as np

from .result import SHARE_UNITS, MetricComparison
from .sample_summary import distribution
from .samples import MetricDef
from .stats import RatioEstimate, bootstrap_ratio, mann_whitney_u, quantile_of, seed_for, side_statistic

MIN_SAMPLES = 5
MIN_RUNS = 3
U_TEST_MIN = 8


def samples_needed(statistic: str) -> int:
    """Samples a side before a one-run noise estimate is trusted: MIN_SAMPLES for a mean; for a percentile
    enough that five samples lie beyond it (p99: 500), since its bootstrap spread is read off those few."""
    q = quantile_of(statistic)
    return MIN_SAMPLES if q is None else max(MIN_SAMPLES, math.ceil(5.0 / (1.0 - q) - 1e-9))


def measure(
    sid,
    d: MetricDef,
    b: list[np.ndarray],
    n: list[np.ndarray],
    share: float | None,
    *,
    min_share: float,
    resamples: int,
) -> tuple[MetricComparison, RatioEstimate | None]:
    """Values, change and noise estimate of one quantity; the verdict comes later (it needs the gated count)."""
    metric_id, scope, key, device_id = sid
    bs, ns = sum(len(r) for r in b), sum(len(r) for r in n)
    row = MetricComparison(
        metric_id,
        d.label,
        scope,
        key,
        device_id,
        d.unit,
        d.polarity,
        d.description,
        side_statistic(b, d.statistic) if b else None,
        side_statistic(n, d.statistic) if n else None,
        None,
        None,
        None,
        None,
        None,
        bs,
        ns,
        len(b),
        len(n),
        share,
        False,
        "info",
        "",
    )
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
    enough = min(bs, ns) >= samples_needed(d.statistic) or min(len(b), len(n)) >= MIN_RUNS
    estimate = (
        bootstrap_ratio(b, n, resamples=resamples, seed=seed_for(repr(sid)), statistic=d.statistic) if enough else None
    )
    return row, estimate


def _interval_change(row: MetricComparison, points: bool) -> tuple[float, float]:
    """The interval of new/base as a change in the row's units (% or points)."""
    lo, hi = row.ratio_low, row.ratio_high
    if points:
        return row.base_value * (lo - 1.0), row.base_value * (hi - 1.0)
    return 100.0 * (lo - 1.0), 100.0 * (hi - 1.0)


def more_data(row: MetricComparison, estimate: RatioEstimate, level: float) -> str:
    """How many samples (or runs) a side would decide the change: the interval's half-width shrinks as
    1/sqrt(n), and must fall below the distance from the observed ratio to no change."""
    lo, hi = estimate.interval(level)
    half = (math.log(hi) - math.log(lo)) / 2.0
    distance = abs(math.log(estimate.ratio))  # the interval must shrink until it excludes no change
    runs = min(row.base_runs, row.new_runs) > 1
    have = min(row.base_runs, row.new_runs) if runs else min(row.base_samples, row.new_samples)
    what = "runs" if runs else "steps" if row.scope == "step" else "calls" if row.id == "kernel_mean_ns" else "samples"
    if distance < 1e-3 or have * (half / distance) ** 2 > 1e6:
        return f"the change is too small against the noise for more {what} to decide it"
    need = max(have + 1, math.ceil(have * (half / distance) ** 2))
    return f"about {need} {what} a side would decide it (have {have})"


def decide(
    row: MetricComparison,
    estimate: RatioEstimate | None,
    samples: tuple[list, list],
    *,
    threshold: float,
    level: float,
    min_share: float,
    need: int = MIN_SAMPLES,
) -> None:
    """Verdict at the per-metric confidence `level` (see the module docstring)."""
    if estimate is not None:
        row.ratio_low, row.ratio_high = estimate.interval(level)
    if abs(row.delta_pct) > 100.0 * threshold and min(row.base_samples, row.new_samples) >= U_TEST_MIN:
        row.u_test_p = mann_whitney_u(*(np.concatenate([distribution(r) for r in side]) for side in samples))[1]
    points = row.unit in SHARE_UNITS
    bad = row.bad_change()
    unit = " points" if points else " %"
    t = 100.0 * threshold
    how = f"{'worse' if bad > 0 else 'better'} by {abs(bad):.1f}{unit}"
    has_interval = estimate is not None and not math.isnan(row.ratio_low)
    if has_interval:
        lo, hi = _interval_change(row, points)
        b_lo, b_hi = (lo, hi) if row.polarity == "lower" else (-hi, -lo)
        interval = f"{100 * level:.4g} % interval [{lo:+.1f}, {hi:+.1f}]{unit}"
    if row.role != "primary":
        row.verdict = "unchanged" if abs(bad) <= t else "worse" if bad > 0 else "better"
        row.reason = f"within ±{t:g}{unit}" if abs(bad) <= t else how
        if has_interval:
            row.reason += f"; {interval}" + ("" if b_lo > 0 or b_hi < 0 else ", which includes no change")
        elif abs(bad) > t:
            row.reason += "; one value a side: no noise estimate"
        row.reason += "; explanation, not gated"
        return
    if not has_interval:
        if abs(bad) <= t:
            row.verdict, row.reason = "unchanged", f"within ±{t:g}{unit}"
            return
        row.verdict = "inconclusive"
        row.reason = (
            f"{how}, but {row.base_samples} vs {row.new_samples} samples from {row.base_runs} vs "
            f"{row.new_runs} trace(s) give no noise estimate: need {need} samples or {MIN_RUNS} repeats a side"
        )
    elif abs(bad) <= t:
        row.verdict, row.reason = "unchanged", f"within ±{t:g}{unit}; {interval}"
    elif b_lo > 0:
        row.verdict, row.reason = "regression", f"{how} (> {t:g}{unit}); {interval}, which excludes no change"
    elif b_hi < 0:
        row.verdict, row.reason = "improvement", f"{how} (> {t:g}{unit}); {interval}, which excludes no change"
    else:
        row.verdict = "inconclusive"
        row.reason = f"{how}, but the {interval} includes no change: " + more_data(row, estimate, level)
    if not row.gated and row.verdict not in ("unchanged",):
        row.reason += f"; not gated: {row.share:.2%} of the base, below the {min_share:.2%} minimum share"
