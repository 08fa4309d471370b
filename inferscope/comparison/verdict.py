"""The verdict of one compared quantity: did it get slower, beyond the threshold and beyond the noise?

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

import math

import numpy as np

from .result import MetricComparison
from .samples import MetricDef
from .stats import RatioEstimate, bootstrap_ratio, mann_whitney_u, seed_for, side_statistic

SHARE_UNITS = ("pct", "%")  # 0-100 shares: their threshold is in percentage points
MIN_SAMPLES = 5
MIN_RUNS = 3
U_TEST_MIN = 8


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
        side_statistic(b) if b else None,
        side_statistic(n) if n else None,
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
    enough = min(bs, ns) >= MIN_SAMPLES or min(len(b), len(n)) >= MIN_RUNS
    estimate = bootstrap_ratio(b, n, resamples=resamples, seed=seed_for(repr(sid))) if enough else None
    return row, estimate


def decide(
    row: MetricComparison,
    estimate: RatioEstimate | None,
    samples: tuple[list, list],
    *,
    threshold: float,
    level: float,
    min_share: float,
) -> None:
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
    interval = (
        f"{100 * level:.4g} % interval of new/base {row.ratio_low:.3f}-{row.ratio_high:.3f}"
        if estimate is not None
        else ""
    )
    if abs(bad) <= pct_t:
        row.verdict, row.reason = "unchanged", f"within ±{pct_t:g}{unit}"
    elif estimate is None:
        # only a possible regression is a gating question; a possible improvement is merely unconfirmed
        row.verdict = "inconclusive" if bad > 0 else "within_noise"
        row.reason = (
            f"{how}, but {row.base_samples} vs {row.new_samples} samples from {row.base_runs} vs "
            f"{row.new_runs} trace(s) cannot tell it from noise: need {MIN_SAMPLES} samples or "
            f"{MIN_RUNS} repeats a side"
        )
    elif math.isnan(row.ratio_low) or row.ratio_low <= 1.0 <= row.ratio_high:
        row.verdict = "within_noise"
        row.reason = f"{how}, but the {interval} includes no change"
    else:
        row.verdict = "regression" if bad > 0 else "improvement"
        row.reason = f"{how} (> {pct_t:g}{unit}); {interval}"
    if not row.gated and row.verdict != "unchanged":
        row.reason += f"; not gated: {row.share:.2%} of the base, below the {min_share:.2%} minimum share"
