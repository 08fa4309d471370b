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

Within-run resampling is exact (sample by sample) up to EXACT_RESAMPLE_MAX samples; beyond that (and for the
summaries that stand for a name's samples past sample_summary.SUMMARY_PAST calls) the mean of a resample is drawn
from a log-normal with the mean and standard error (sd / sqrt(n)) resampling converges to. The
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

from .sample_summary import SampleSummary, distribution, mean_of, sd_of

EXACT_RESAMPLE_MAX = 500


@dataclass(frozen=True)
class RatioEstimate:
    ratio: float  # observed new/base
    log_sd: float  # bootstrap standard deviation of log(new/base); nan when it could not be estimated

    df: float = math.inf  # degrees of freedom of the spread (see _degrees_of_freedom)

    def interval(self, confidence: float) -> tuple[float, float]:
        """Two-sided interval of new/base at `confidence` (log-normal around the observed ratio), with Student's
        t in place of the normal quantile when there are few samples or runs (5 steps a side are not a normal
        sample)."""
        if not (self.ratio > 0 and math.isfinite(self.ratio)) or math.isnan(self.log_sd):
            return math.nan, math.nan
        q = t_quantile(0.5 + confidence / 2.0, self.df)
        sd = self.log_sd
        centre = math.log(self.ratio)
        return math.exp(centre - q * sd), math.exp(centre + q * sd)


def _t_central(x: float, df: int) -> float:
    """P(|T| < x) for Student's t with integer df (Abramowitz & Stegun 26.7.3-4: a finite series in cos(theta))."""
    theta = math.atan(x / math.sqrt(df))
    c2, term, total = math.cos(theta) ** 2, 1.0, 1.0
    if df % 2:
        if df == 1:
            return 2.0 * theta / math.pi
        for k in range(2, df - 1, 2):
            term *= c2 * k / (k + 1)
            total += term
        return 2.0 / math.pi * (theta + math.sin(theta) * math.cos(theta) * total)
    for k in range(1, df - 2, 2):
        term *= c2 * k / (k + 1)
        total += term
    return math.sin(theta) * total


def t_quantile(p: float, df: float) -> float:
    """Quantile (p > 0.5) of Student's t: bisection on the exact integer-df distribution; the normal beyond
    df 300, where the two differ by under 1 % at the levels a gate uses."""
    if not math.isfinite(df) or df > 300:
        return NormalDist().inv_cdf(p)
    df, target = max(1, int(df)), 2.0 * p - 1.0
    lo, hi = 0.0, 1.0
    while _t_central(hi, df) < target:
        hi *= 2.0
    for _ in range(60):
        mid = (lo + hi) / 2.0
        lo, hi = (mid, hi) if _t_central(mid, df) < target else (lo, mid)
    return (lo + hi) / 2.0


def quantile_of(statistic: str) -> float | None:
    """'p99' -> 0.99; None for 'mean'."""
    return None if statistic == "mean" else int(statistic[1:]) / 100.0


def side_statistic(runs: Sequence[np.ndarray], statistic: str = "mean") -> float:
    """Mean over the runs of each run's statistic (its mean, or a percentile such as 'p99' by linear
    interpolation, numpy's default and AIPerf's), so that each repeat weighs the same."""
    q = quantile_of(statistic)
    if q is None:
        return float(np.mean([mean_of(r) for r in runs]))
    return float(np.mean([np.quantile(distribution(r), q) for r in runs]))


QUANTILE_CHUNK = 50_000_000  # drawn indices held at once when resampling a percentile (400 MB of int64 at most)


def _quantile_resamples(r: np.ndarray, q: float, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Percentile of each of `resamples` exact resamples of r. No normal shortcut as for means: a tail percentile's
    spread depends on the few values above it, which only resampling them shows."""
    n = len(r)
    out = np.empty(resamples)
    step = max(1, QUANTILE_CHUNK // n)
    for lo in range(0, resamples, step):
        hi = min(resamples, lo + step)
        out[lo:hi] = np.quantile(r[rng.integers(0, n, size=(hi - lo, n))], q, axis=1)
    return out


def _side_bootstrap(
    runs: Sequence[np.ndarray], resamples: int, rng: np.random.Generator, statistic: str = "mean"
) -> np.ndarray:
    q = quantile_of(statistic)
    per_run = np.empty((len(runs), resamples))
    for i, r in enumerate(runs):
        n = len(r)
        if n == 1:
            per_run[i] = distribution(r)[0]
        elif q is not None:
            per_run[i] = _quantile_resamples(distribution(r), q, resamples, rng)
        elif n <= EXACT_RESAMPLE_MAX and not isinstance(r, SampleSummary):
            per_run[i] = r[rng.integers(0, n, size=(resamples, n), dtype=np.int32)].mean(axis=1)
        else:
            mean = mean_of(r)
            rel_se = sd_of(r) / math.sqrt(n) / mean if mean > 0 else 0.0
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
    runs = [r if isinstance(r, SampleSummary) else np.sort(np.asarray(r, dtype=float)) for r in runs if len(r)]
    return sorted(runs, key=lambda r: (len(r), r.identity() if isinstance(r, SampleSummary) else r.tobytes()))


def bootstrap_ratio(
    base: Sequence[np.ndarray],
    new: Sequence[np.ndarray],
    *,
    resamples: int = 1000,
    seed: int = 0,
    statistic: str = "mean",
) -> RatioEstimate:
    """side_statistic(new) / side_statistic(base) and the bootstrap spread of its logarithm."""
    base, new = _canonical(base), _canonical(new)
    if not base or not new:
        raise ValueError("both sides need at least one non-empty run")
    b0, n0 = side_statistic(base, statistic), side_statistic(new, statistic)
    if b0 <= 0 or n0 <= 0:
        return RatioEstimate(n0 / b0 if b0 else math.inf, math.nan)
    rng = np.random.default_rng(seed)
    bb = _side_bootstrap(base, resamples, rng, statistic)
    nb = _side_bootstrap(new, resamples, rng, statistic)
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.log(nb) - np.log(bb)
    logs = logs[np.isfinite(logs)]
    if len(logs) < resamples // 2:
        return RatioEstimate(n0 / b0, math.nan)
    df = _degrees_of_freedom(base, new)
    return RatioEstimate(n0 / b0, float(np.std(logs, ddof=1)), df)


def _degrees_of_freedom(base: list[np.ndarray], new: list[np.ndarray]) -> float:
    """Of a two-sample comparison: repeats, runs a side minus one, summed (run-to-run noise dominates); single
    runs, samples a side minus one, summed."""
    if min(len(base), len(new)) > 1:
        return float(len(base) + len(new) - 2)
    nb, nn = sum(len(r) for r in base), sum(len(r) for r in new)
    return float(nb + nn - 2) if nb > 1 and nn > 1 else math.inf


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
