"""Window means across sampler pauses (issue 24), on an edited copy of the real H200 GPU-metrics export
(../shared/traces/PROVENANCE.md) with two runs of samples deleted: a short pause (3 ms, 30 periods) and a long one
(300 ms, more than 1024 periods). A window edge in a pause, before the first sample or after the last has no sample
starting near it, so gpu_metrics_during finds its sample by another route than a regular edge does; the expectations
are computed here from the edited file with sqlite3 and plain Python (a sample holds until the next one, or for one
period where the gap to the next exceeds four periods), never through InferScope."""

from __future__ import annotations

import gzip
import shutil
import sqlite3
import statistics
from pathlib import Path

import pytest

from tests import gpu_metric_edits
from tests.conftest import needs_shared

pytestmark = needs_shared

TENSOR = "Tensor Active [Throughput %]"
SHORT_PAUSE = (1_000_000_000, 3_000_000)  # (offset from the first sample, length), ns
LONG_PAUSE = (3_000_000_000, 300_000_000)


class PausedSeries:
    """One metric's samples: v_i holds on [t_i, t_{i+1}), or for one period where t_{i+1} - t_i > 4 periods."""

    def __init__(self, points: list[tuple[int, float]]):
        self.ts = [t for t, _ in points]
        self.values = [v for _, v in points]
        self.period = statistics.median_low(b - a for a, b in zip(self.ts, self.ts[1:]))
        nxt = self.ts[1:] + [None]
        self.ends = [t + self.period if n is None or n - t > 4 * self.period else n for t, n in zip(self.ts, nxt)]

    def window(self, a: int, b: int) -> tuple[float | None, int, int]:
        """(time-weighted mean or None, covered ns, samples touched) over [a, b)."""
        total = 0.0
        covered = touched = 0
        for t, e, v in zip(self.ts, self.ends, self.values):
            if t < b and e > a:
                touched += 1
                overlap = min(b, e) - max(a, t)
                total += v * overlap
                covered += overlap
        return (total / covered if covered else None), covered, touched


@pytest.fixture(scope="module")
def paused(tmp_path_factory) -> tuple[Path, int, int]:
    """Edited copy: the export with the samples of two pauses deleted; returns (file, first, last sample time)."""
    out = tmp_path_factory.mktemp("gm_pauses") / "h200_gpu_metrics_two_pauses_edited.sqlite"
    with gzip.open(gpu_metric_edits.H200_METRICS, "rb") as src, open(out, "wb") as dst:
        shutil.copyfileobj(src, dst)
    con = sqlite3.connect(out)
    first, last = con.execute("SELECT min(timestamp), max(timestamp) FROM GPU_METRICS").fetchone()
    for offset, length in (SHORT_PAUSE, LONG_PAUSE):
        con.execute(
            "DELETE FROM GPU_METRICS WHERE timestamp > ? AND timestamp < ?", (first + offset, first + offset + length)
        )
    con.commit()
    con.close()
    return out, first, last


@pytest.fixture(scope="module")
def tensor(paused) -> PausedSeries:
    con = sqlite3.connect(paused[0])
    (metric,) = con.execute("SELECT metricId FROM TARGET_INFO_GPU_METRICS WHERE metricName = ?", (TENSOR,)).fetchone()
    points = con.execute("SELECT timestamp, value FROM GPU_METRICS WHERE metricId = ? ORDER BY timestamp", (metric,))
    series = PausedSeries(points.fetchall())
    con.close()
    return series


def windows_around_the_pauses(s: PausedSeries) -> list[tuple[int, int]]:
    """Edges at many depths into each pause (some in the coarse bucket of the pause's last sample, some far past it),
    windows spanning a pause, windows shorter than a period at a pause's edges, and windows outside the series."""
    out = []
    for i in range(1, len(s.ts)):
        if s.ts[i] - s.ts[i - 1] <= 4 * s.period:
            continue
        hole_start, hole_end = s.ends[i - 1], s.ts[i]
        length = hole_end - hole_start
        for frac in (0.0, 0.001, 0.01, 0.1, 0.3, 0.5, 0.7, 0.9, 0.99):
            inside = hole_start + int(frac * length)
            out += [(inside - 2_000_000, inside), (inside, inside + 5_000_000), (inside, inside + 1)]
            out += [(inside - 30_000, inside + 30_000), (inside, hole_end + 40_000)]
        out += [(s.ts[i - 1] + 10_000, s.ts[i] + 10_000), (hole_start - 1, hole_start + 1), (hole_end - 1, hole_end)]
        out += [(s.ts[i - 2], hole_end + 3 * s.period), (hole_start, hole_end)]
    first, last = s.ts[0], s.ts[-1]
    out += [(first - 50_000_000, first - 1), (first - 50_000_000, first + 250_000), (first - 1, first)]
    out += [(last, last + s.period), (last + 10_000, last + 90_000_000), (last + s.period, last + 2 * s.period)]
    out += [(first - 1, last + 1)]
    return out


def test_the_edit_made_two_pauses(tensor):
    holes = [b - a for a, b in zip(tensor.ts, tensor.ts[1:]) if b - a > 4 * tensor.period]
    assert len(holes) == 2 and max(holes) > 1024 * tensor.period > min(holes)


def test_window_means_across_sampler_pauses_match_the_raw_samples(paused, tensor, open_trace):
    trace = open_trace(paused[0])
    wins = windows_around_the_pauses(tensor)
    values = ", ".join(f"({k}, NULL::BIGINT, {a}::BIGINT, {b}::BIGINT)" for k, (a, b) in enumerate(wins))
    rows = trace.sql(
        f"WITH w(interval_id, device_id, start_ns, end_ns) AS (VALUES {values}) "
        "SELECT interval_id, mean_value, covered_ns, samples FROM gpu_metrics_during(w) "
        "WHERE metric_id = 'tensor_active_pct' ORDER BY interval_id"
    ).to_dict("records")
    assert [r["interval_id"] for r in rows] == list(range(len(wins)))
    uncovered = 0
    for r, (a, b) in zip(rows, wins):
        mean, covered, touched = tensor.window(a, b)
        assert (r["covered_ns"], r["samples"]) == (covered, touched), (a, b)
        if mean is None:
            uncovered += 1
            assert r["mean_value"] is None or r["mean_value"] != r["mean_value"], (a, b)  # NULL arrives as NaN
        else:
            assert r["mean_value"] == pytest.approx(mean, rel=1e-9), (a, b)
    assert 0 < uncovered < len(wins)  # windows wholly inside a pause or outside the series, and the others
