"""Compare at scale (issue 21): a name's per-call samples past SUMMARY_PAST calls are summarised in DuckDB.

The summaries are forced on real traces by lowering the threshold, and checked against the samples the same
traces give without them: the exact count and sums, the order statistics at the ranks the docstring names
(computed here in plain Python from the sorted samples), and a whole comparison, row by row, that must agree
(verdicts, values, intervals; the rank test's p-value may move, it is read off the order statistics). A baseline
that holds summaries is version 2 and compares as its traces. compare closes the traces it opened itself, one
side at a time, and leaves the caller's open.
"""

from __future__ import annotations

import dataclasses
import json
import math
import statistics

import duckdb
import numpy as np
import pyarrow.parquet as pq
import pytest

import inferscope
from inferscope.comparison import sample_summary
from inferscope.comparison.sample_summary import SampleSummary, kept_rank_condition
from inferscope.comparison.samples import extract
from tests.conftest import SAMPLES, needs_shared
from tests.test_compare_gate import EAGER, GRAPH, KINETO_A100, KINETO_V100, PAGEABLE, PINNED

SUMMARISED = ("kernel_mean_ns", "range_mean_ns")
FORCED_PAST, FORCED_KEPT = 600, 25  # past stats.EXACT_RESAMPLE_MAX, as the default is
SAMPLE = SAMPLES / "h100_2gpu_fastvideo.sqlite"


@pytest.fixture
def forced(monkeypatch):
    """Summaries past FORCED_PAST calls, keeping FORCED_KEPT order statistics (the shared traces have names with
    thousands of calls, not the 100,000 of the default)."""
    monkeypatch.setattr(sample_summary, "SUMMARY_PAST", FORCED_PAST)
    monkeypatch.setattr(sample_summary, "KEPT", FORCED_KEPT)


def kept_ranks(n: int, kept: int) -> list[int]:
    """The 1-based ranks a summary of n samples keeps, as the module docstring defines them."""
    return sorted({1 + (j * n) // kept for j in range(kept)} | {n})


@pytest.mark.parametrize(
    "n, kept", [(26, 25), (61, 25), (97, 25), (1000, 25), (100_001, 25), (10_001, 10_000), (100_001, 10_000)]
)
def test_kept_rank_condition_selects_the_evenly_spaced_ranks(n, kept, monkeypatch):
    monkeypatch.setattr(sample_summary, "KEPT", kept)
    sql = f"SELECT r FROM (SELECT range AS r, {n} AS c FROM range(1, {n} + 1)) WHERE {kept_rank_condition('r', 'c')}"
    got = sorted(r for (r,) in duckdb.sql(sql).fetchall())
    assert got == kept_ranks(n, kept)
    assert len(got) in (kept, kept + 1)


def test_summary_moments_are_exact():
    rng = np.random.default_rng(7)
    # durations near 1000 s with ns noise: the one-pass float formula loses every digit of this spread
    values = [10**12 + int(v) for v in rng.integers(0, 1000, size=5000)]
    s = SampleSummary(len(values), sum(values), sum(v * v for v in values), np.sort(np.array(values, dtype=float)))
    assert len(s) == 5000
    assert s.mean() == pytest.approx(statistics.fmean(values), rel=1e-15)
    assert s.sd() == pytest.approx(statistics.stdev(values), rel=1e-12)
    naive = math.sqrt(max(0.0, (float(s.squares) - float(s.total) ** 2 / s.n) / (s.n - 1)))
    assert abs(naive - statistics.stdev(values)) > 1.0  # what exact sums avoid
    assert SampleSummary(1, 5, 25, np.array([5.0])).sd() == 0.0


@needs_shared
@pytest.mark.parametrize("path", [EAGER, SAMPLE], ids=["h200-eager", "h100-nsys-sample"])
def test_summaries_restate_the_samples(path, cache_dir, monkeypatch):
    with inferscope.open(path, cache_dir=cache_dir) as trace:
        full = extract(trace, analysis=False)
        monkeypatch.setattr(sample_summary, "SUMMARY_PAST", FORCED_PAST)
        monkeypatch.setattr(sample_summary, "KEPT", FORCED_KEPT)
        summarised = extract(trace, analysis=False)
    assert set(full.series) == set(summarised.series)
    assert full.shares == summarised.shares
    seen = 0
    for sid, values in full.series.items():
        got = summarised.series[sid]
        if sid[0] in SUMMARISED and len(values) > FORCED_PAST:
            assert isinstance(got, SampleSummary), sid
            ints = [int(v) for v in values]
            assert (got.n, got.total, got.squares) == (len(ints), sum(ints), sum(v * v for v in ints)), sid
            ordered = sorted(ints)
            assert got.values.tolist() == [float(ordered[r - 1]) for r in kept_ranks(len(ints), FORCED_KEPT)], sid
            seen += 1
        else:
            assert isinstance(got, np.ndarray), sid
            assert np.array_equal(np.sort(got), np.sort(values)), sid
    assert seen, "no name had more samples than the forced threshold: the test proves nothing"


def _rows(c) -> list[dict]:
    return [dataclasses.asdict(m) for m in c.metrics]


def same_rows(a: list[dict], b: list[dict]) -> None:
    """Everything but the rank test's p-value agrees: intervals to 1e-9 (the sd from exact sums against numpy's),
    the rest exactly."""
    assert [(r["id"], r["scope"], r["key"]) for r in a] == [(r["id"], r["scope"], r["key"]) for r in b]
    for x, y in zip(a, b):
        for field, value in x.items():
            if field == "u_test_p":
                assert (value is None) == (y[field] is None), (x["key"], field)
            elif isinstance(value, float) and not math.isnan(value):
                assert y[field] == pytest.approx(value, rel=1e-9), (x["key"], field)
            elif field != "reason":
                assert y[field] == value or (value != value and y[field] != y[field]), (x["key"], field)


@needs_shared
@pytest.mark.parametrize(
    "base, new", [(EAGER, GRAPH), (KINETO_A100, KINETO_V100)], ids=["h200-eager->graph", "kineto-a100->v100"]
)
def test_comparison_with_summaries_agrees(base, new, cache_dir, monkeypatch):
    full = inferscope.compare(base, new, cache_dir=cache_dir, allow_hardware_change=True)
    monkeypatch.setattr(sample_summary, "SUMMARY_PAST", FORCED_PAST)
    monkeypatch.setattr(sample_summary, "KEPT", FORCED_KEPT)
    summarised = inferscope.compare(base, new, cache_dir=cache_dir, allow_hardware_change=True)
    assert any(m.id in SUMMARISED and min(m.base_samples, m.new_samples) > FORCED_PAST for m in summarised.metrics)
    assert summarised.verdict == full.verdict and summarised.summary == full.summary
    same_rows(_rows(full), _rows(summarised))
    assert [m.verdict for m in summarised.metrics] == [m.verdict for m in full.metrics]


@needs_shared
def test_baseline_with_summaries_is_version_2_and_compares_as_its_traces(cache_dir, tmp_path, forced):
    saved = tmp_path / "base.parquet"
    direct = inferscope.compare(EAGER, GRAPH, cache_dir=cache_dir, save_base=saved)
    header = json.loads(pq.ParquetFile(saved).metadata.metadata[b"inferscope.baseline"])
    assert header["baseline_version"] == "2"
    table = pq.read_table(saved)
    counts = [c for c in table.column("count").to_pylist() if c is not None]
    assert counts and min(counts) > FORCED_PAST
    again = inferscope.compare(saved, GRAPH, cache_dir=cache_dir)
    same_rows(_rows(direct), _rows(again))
    assert again.verdict == direct.verdict


@needs_shared
def test_compare_closes_only_the_traces_it_opened(cache_dir, monkeypatch):
    from inferscope.engine.trace import Trace

    closed: list[str] = []
    original = Trace.close

    def spy(self):
        if "engine" in self.__dict__:
            closed.append(self.path.name)
        original(self)

    monkeypatch.setattr(Trace, "close", spy)
    mine = inferscope.open(PINNED, cache_dir=cache_dir)
    try:
        inferscope.compare([PAGEABLE, PAGEABLE], mine, cache_dir=cache_dir)
        assert closed == [PAGEABLE.name, PAGEABLE.name]  # each as soon as it was sampled; the caller's stays open
        assert "engine" in mine.__dict__ and mine.sql("SELECT count(*) FROM kernels", arrow=True).num_rows == 1
    finally:
        mine.close()
