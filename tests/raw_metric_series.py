"""One GPU metric's samples as read from a raw nsys export, for the tests' and the verdict reader's expectations,
computed with plain Python and never through InferScope: value v_i holds on [t_i, t_{i+1}), or for one sampling
period (the median spacing) after the last sample and where the next one is more than four periods away."""

from __future__ import annotations

import bisect
import statistics


class RawSeries:
    def __init__(self, points: list[tuple[int, float]]):
        points = sorted(points)
        self.ts = [t for t, _ in points]
        self.values = [v for _, v in points]
        steps = [b - a for a, b in zip(self.ts, self.ts[1:])]
        self.period = statistics.median(steps) if steps else 0
        nxt = self.ts[1:] + [None]
        self.ends = [t + self.period if n is None or n - t > 4 * self.period else n for t, n in zip(self.ts, nxt)]

    def integral(self, a: int, b: int) -> tuple[float, float]:
        """(integral of value dt, covered time) over [a, b)."""
        total = covered = 0.0
        i = max(bisect.bisect_right(self.ts, a) - 1, 0)
        while i < len(self.ts) and self.ts[i] < b:
            overlap = min(b, self.ends[i]) - max(a, self.ts[i])
            if overlap > 0:
                total += self.values[i] * overlap
                covered += overlap
            i += 1
        return total, covered

    def mean(self, a: int, b: int) -> float | None:
        total, covered = self.integral(a, b)
        return total / covered if covered else None
