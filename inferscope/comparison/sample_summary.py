"""One kernel's or annotation range's per-call samples, held past SUMMARY_PAST calls as what the statistics read.

Compare's per-call samples grow with the trace: at 10M kernels and 50M annotation ranges, one array of durations
per name is the whole table in Python, and the table fetched to build them was several times that. Past
`stats.EXACT_RESAMPLE_MAX` samples the bootstrap reads a run only through its count, mean and standard deviation,
so a summary keeps those exactly (integer sums that DuckDB computes under its memory cap) and, for what needs the
shape of the distribution (the rank test, a percentile), KEPT order statistics at evenly spaced ranks, the
smallest and largest included. Below SUMMARY_PAST the samples stay an array, so a comparison of an ordinary trace
is computed from every value, as before.

The rank test on summaries runs on their order statistics: KEPT values a side stand for millions, which makes its
p-value conservative (a smaller sample), never smaller than the full sample's would be for the same shift.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

SUMMARY_PAST = 100_000  # calls of one name in one trace above which its samples are summarised
KEPT = 10_000  # order statistics a summary keeps (80 KB)


@dataclass(frozen=True, eq=False)
class SampleSummary:
    """n samples (integers, ns) summarised; `len()` is n, as for the array it stands for."""

    n: int
    total: int  # sum of the samples, exact
    squares: int  # sum of their squares, exact
    values: np.ndarray  # order statistics at ranks 1 + floor(j * n / KEPT) and n, ascending (float64)

    def __len__(self) -> int:
        return self.n

    def mean(self) -> float:
        return self.total / self.n

    def sd(self) -> float:
        """Sample standard deviation (ddof 1), from the exact sums: no cancellation, whatever the magnitudes."""
        if self.n < 2:
            return 0.0
        return math.sqrt((self.n * self.squares - self.total * self.total) / (self.n * (self.n - 1)))

    def copy(self) -> "SampleSummary":
        return self  # immutable

    def identity(self) -> bytes:
        """Bytes that tell two summaries apart, for a fixed order of runs (stats._canonical)."""
        return f"{self.n}:{self.total}:{self.squares}:".encode() + self.values.tobytes()


def mean_of(sample) -> float:
    return sample.mean() if isinstance(sample, SampleSummary) else float(np.mean(sample))


def sd_of(sample) -> float:
    return sample.sd() if isinstance(sample, SampleSummary) else float(np.std(sample, ddof=1))


def sum_of(sample) -> float:
    return float(sample.total) if isinstance(sample, SampleSummary) else float(np.sum(sample))


def distribution(sample) -> np.ndarray:
    """The values that stand for the sample's distribution: its order statistics, or the sample itself."""
    return sample.values if isinstance(sample, SampleSummary) else np.asarray(sample, dtype=float)


def kept_rank_condition(rank: str, count: str) -> str:
    """SQL: true for the ranks (1-based, within a group of `count` rows) a summary keeps: 1 + floor(j * count /
    KEPT) for j in 0..KEPT-1, and the last. A rank r is one of them when some multiple of `count` lies in
    [(r - 1) * KEPT, r * KEPT)."""
    return f"(({count} - (({rank} - 1) * {KEPT}) % {count}) % {count} < {KEPT} OR {rank} = {count})"
