"""How sure are we that a metric changed? A two-level bootstrap of the ratio new/base.

A metric on one side is a list of runs (repeats), each an array of samples: per-step times, per-instance
durations, or a single value per run for whole-trace metrics. The statistic of a side is the mean of its runs'
means, so every repeat counts the same however many samples it holds.

Resampling mimics how the data arose: draw runs with replacement (run-to-run noise: clocks, placement, other
tenants), then samples within each drawn run (step-to-step noise). The spread of log(new/base) over the resamples
is the noise; the interval is log-normal around the observed ratio, so that it can be taken at the high levels a
multi-metric gate needs (see core: the level is Bonferroni-adjusted by the number of gated metrics) without
millions of resamples. With a single run per side only the within-run noise is visible, which is why repeats are
preferred.

Within-run resampling is exact (sample by sample) up to EXACT_RESAMPLE_MAX samples; beyond that the mean of a
resample is drawn from a log-normal with the mean and standard error (sd / sqrt(n)) resampling converges to. The
log-normal rather than the normal keeps those means positive: CPU ranges are skewed enough (one 0.4 s
`aten::item` among thousands of 20 us ops) that a normal draw can come out negative. Only the spread of
log(new/base) is needed, not its far tails, so 1000 resamples are plenty.

A Mann-Whitney U test (normal approximation with tie correction) is offered too, as a rank test on per-step or
per-instance samples; `compare` reports its p-value next to the interval.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from statistics import NormalDist
from typing import Sequence

import numpy as np

EXACT_RESAMPLE_MAX = 500


@dataclass(frozen=True)
class RatioEstimate:
    ratio: float  # observed new/base
    log_sd: float  # bootstrap standard deviation of log(new/base); nan when it could not be estimated

    def interval(self, confidence: float) -> tuple[float, float]:
        """Two-sided interval of new/base at `confidence` (log-normal around the observed ratio)."""
        if not (self.ratio > 0 and math.isfinite(self.ratio)) or math.isnan(self.log_sd):
            return math.nan, math.nan
        z = NormalDist().inv_cdf(0.5 + confidence / 2.0)
        centre = math.log(self.ratio)
        return math.exp(centre - z * self.log_sd), math.exp(centre + z * self.log_sd)


def side_statistic(runs: Sequence[np.ndarray]) -> float:
    """Mean of the runs' means (each repeat weighs the same)."""
    return float(np.mean([np.mean(r) for r in runs]))


def _side_bootstrap(runs: Sequence[np.ndarray], resamples: int, rng: np.random.Generator) -> np.ndarray:
    per_run = np.empty((len(runs), resamples))
    for i, r in enumerate(runs):
        n = len(r)
        if n == 1:
            per_run[i] = r[0]
        elif n <= EXACT_RESAMPLE_MAX:
            per_run[i] = r[rng.integers(0, n, size=(resamples, n), dtype=np.int32)].mean(axis=1)
        else:
            mean = float(np.mean(r))
            rel_se = float(np.std(r, ddof=1)) / math.sqrt(n) / mean if mean > 0 else 0.0
            sigma2 = math.log1p(rel_se * rel_se)
            per_run[i] = mean * np.exp(rng.normal(-sigma2 / 2.0, math.sqrt(sigma2), size=resamples))
    if len(runs) == 1:
        return per_run[0]
    pick = rng.integers(0, len(runs), size=(resamples, len(runs)))
    return per_run[pick, np.arange(resamples)[:, None]].mean(axis=1)


def seed_for(label: str) -> int:
    """A stable seed per metric, so a report is identical every time it is computed."""
    return zlib.crc32(label.encode("utf-8"))


def _canonical(runs: Sequence[np.ndarray]) -> list[np.ndarray]:
    """The runs' values sorted, and the runs in a fixed order. The samples come from SQL without an order (DuckDB
    scans in parallel), and a seeded resample of the same values in another order picks other values: the same
    two traces gave intervals that moved in the third digit and a verdict that flipped between runs."""
    runs = [np.sort(np.asarray(r, dtype=float)) for r in runs if len(r)]
    return sorted(runs, key=lambda r: (len(r), r.tobytes()))


def bootstrap_ratio(
    base: Sequence[np.ndarray], new: Sequence[np.ndarray], *, resamples: int = 1000, seed: int = 0
) -> RatioEstimate:
    """side_statistic(new) / side_statistic(base) and the bootstrap spread of its logarithm."""
    base, new = _canonical(base), _canonical(new)
    if not base or not new:
        raise ValueError("both sides need at least one non-empty run")
    b0, n0 = side_statistic(base), side_statistic(new)
    if b0 <= 0 or n0 <= 0:
        return RatioEstimate(n0 / b0 if b0 else math.inf, math.nan)
    rng = np.random.default_rng(seed)
    bb = _side_bootstrap(base, resamples, rng)
    nb = _side_bootstrap(new, resamples, rng)
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.log(nb) - np.log(bb)
    logs = logs[np.isfinite(logs)]
    if len(logs) < resamples // 2:
        return RatioEstimate(n0 / b0, math.nan)
    return RatioEstimate(n0 / b0, float(np.std(logs, ddof=1)))


def mann_whitney_u(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Two-sided Mann-Whitney U test: (U statistic of x, p-value), normal approximation with tie correction.

    Valid for moderate sample sizes (both above ~8); callers should treat smaller samples as too little data.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    n1, n2 = len(x), len(y)
    if n1 == 0 or n2 == 0:
        raise ValueError("both samples must be non-empty")
    both = np.concatenate([x, y])
    order = np.argsort(both, kind="mergesort")
    ranks = np.empty(len(both))
    sorted_vals = both[order]
    # average ranks over ties
    _, first, counts = np.unique(sorted_vals, return_index=True, return_counts=True)
    avg = first + (counts + 1) / 2.0
    ranks[order] = np.repeat(avg, counts)
    u1 = ranks[:n1].sum() - n1 * (n1 + 1) / 2.0
    n = n1 + n2
    tie_term = float((counts**3 - counts).sum())
    var = n1 * n2 / 12.0 * ((n + 1) - tie_term / (n * (n - 1))) if n > 1 else 0.0
    if var <= 0:
        return u1, 1.0
    mu = n1 * n2 / 2.0
    z = (abs(u1 - mu) - 0.5) / math.sqrt(var)  # continuity correction
    p = math.erfc(max(z, 0.0) / math.sqrt(2.0))
    return u1, min(1.0, p)
