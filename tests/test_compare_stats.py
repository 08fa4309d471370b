"""The noise model: the bootstrap of new/base and the Mann-Whitney U test, checked against SciPy where it is
installed (SciPy is no InferScope dependency; it is only the oracle here)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from inferscope.comparison.stats import bootstrap_ratio, mann_whitney_u, side_statistic


@pytest.fixture
def rng():
    return np.random.default_rng(20)


@pytest.mark.parametrize("n1, n2", [(9, 12), (60, 45), (400, 380)])
def test_mann_whitney_matches_scipy(rng, n1, n2):
    stats = pytest.importorskip("scipy.stats", reason="SciPy (the oracle) is not installed")
    x = np.round(rng.gamma(2.0, 10.0, n1))  # rounded: ties, as integer ns durations have
    y = np.round(rng.gamma(2.0, 11.0, n2))
    u, p = mann_whitney_u(x, y)
    ref = stats.mannwhitneyu(x, y, alternative="two-sided", method="asymptotic", use_continuity=True)
    assert u == pytest.approx(ref.statistic)
    assert p == pytest.approx(ref.pvalue, rel=1e-9)


@pytest.mark.parametrize("n1, n2", [(150, 120), (3000, 2500)])  # exact resampling / its log-normal shortcut
def test_bootstrap_spread_matches_scipy_for_one_run(rng, n1, n2):
    """One run per side is the ordinary bootstrap: its log-ratio standard error is SciPy's."""
    stats = pytest.importorskip("scipy.stats", reason="SciPy (the oracle) is not installed")
    x = rng.lognormal(2.0, 1.0, n1)  # skewed, like CPU range durations
    y = rng.lognormal(2.1, 1.0, n2)
    ours = bootstrap_ratio([x], [y], resamples=4000, seed=1)
    ref = stats.bootstrap(
        (y, x),
        lambda a, b, axis=-1: np.log(a.mean(axis=axis) / b.mean(axis=axis)),
        n_resamples=4000,
        random_state=2,
        method="percentile",
    )
    assert ours.ratio == pytest.approx(y.mean() / x.mean())
    assert ours.log_sd == pytest.approx(ref.standard_error, rel=0.08)


def test_repeats_add_run_to_run_noise(rng):
    """The same pooled samples split into runs that disagree give a wider interval than one run does."""
    runs_b = [rng.normal(100 * f, 3, 50) for f in (0.94, 1.0, 1.06)]
    runs_n = [rng.normal(100 * f, 3, 50) for f in (1.0, 1.06, 1.12)]
    pooled = bootstrap_ratio([np.concatenate(runs_b)], [np.concatenate(runs_n)], seed=3)
    nested = bootstrap_ratio(runs_b, runs_n, seed=3)
    assert nested.ratio == pytest.approx(pooled.ratio, rel=1e-9)
    assert nested.log_sd > 3 * pooled.log_sd
    assert nested.interval(0.95)[0] < 1 < nested.interval(0.95)[1]
    assert pooled.interval(0.95)[0] > 1


def test_interval_coverage_on_identical_distributions():
    """Noise only: the 95 % interval holds 1 in about 95 % of trials (checks the spread is not too small)."""
    rng = np.random.default_rng(5)
    hits = 0
    trials = 300
    for i in range(trials):
        b = [rng.lognormal(3.0, 0.4, 80)]
        n = [rng.lognormal(3.0, 0.4, 80)]
        lo, hi = bootstrap_ratio(b, n, resamples=600, seed=i).interval(0.95)
        hits += lo <= 1 <= hi
    assert 0.91 <= hits / trials <= 0.99


def test_degenerate_inputs():
    one = bootstrap_ratio([np.array([5.0])], [np.array([6.0])])
    assert one.ratio == pytest.approx(1.2) and one.log_sd == pytest.approx(0.0, abs=1e-12)  # no spread seen
    assert one.interval(0.99) == pytest.approx((1.2, 1.2), rel=1e-9)
    zero = bootstrap_ratio([np.zeros(5)], [np.ones(5)])
    assert math.isinf(zero.ratio) and math.isnan(zero.interval(0.95)[0])
    assert side_statistic([np.array([1.0, 3.0]), np.array([10.0])]) == 6.0  # each run weighs the same
    with pytest.raises(ValueError):
        bootstrap_ratio([], [np.ones(3)])


def test_estimate_does_not_depend_on_sample_order(rng):
    """Samples arrive from SQL in no fixed order; the same values in another order (and runs listed in another
    order) must give the same interval to the last bit, or a verdict near the threshold flips from run to run."""
    base = [rng.lognormal(10, 0.3, size=40), rng.lognormal(10, 0.3, size=25)]
    new = [rng.lognormal(10.1, 0.3, size=33)]
    first = bootstrap_ratio(base, new, seed=11)
    shuffled = [rng.permutation(r) for r in reversed(base)]
    again = bootstrap_ratio(shuffled, [rng.permutation(new[0])], seed=11)
    assert (again.ratio, again.log_sd) == (first.ratio, first.log_sd)


@pytest.mark.parametrize("df", [1, 2, 3, 4, 7, 14, 30, 120, 299])
def test_t_quantile_matches_scipy(df):
    stats = pytest.importorskip("scipy.stats")
    from inferscope.comparison.stats import t_quantile

    for p in (0.6, 0.975, 0.995, 0.9995, 0.99999):
        assert t_quantile(p, df) == pytest.approx(stats.t.ppf(p, df), rel=1e-9)


def test_few_samples_widen_the_interval_by_students_t():
    """5 steps a side: the interval uses t with 8 degrees of freedom, wider than the normal's, and a 14x change
    is still decided (issue 20)."""
    from statistics import NormalDist

    from inferscope.comparison.stats import t_quantile

    base = [np.array([27.06, 26.97, 26.98, 26.94, 26.99])]
    est = bootstrap_ratio(base, [base[0] * 14], seed=1)
    assert est.df == 8
    lo, hi = est.interval(0.99)
    width = math.log(hi) - math.log(lo)
    assert width == pytest.approx(2 * t_quantile(0.995, 8) * est.log_sd)
    assert t_quantile(0.995, 8) > NormalDist().inv_cdf(0.995)
    assert lo > 13 and hi < 15


def test_warmup_step_is_left_out_only_when_it_stands_out():
    from inferscope.comparison.samples import warmup_mask

    pids = np.array([1] * 6 + [2] * 3)
    dur = np.array([46.0, 6.3, 6.2, 6.4, 6.3, 6.3, 50.0, 6.0, 6.0])
    keep = warmup_mask(pids, dur)
    # pid 1: 46 > 3 x 6.3, left out; pid 2: only 3 steps, kept
    assert keep.tolist() == [False] + [True] * 5 + [True] * 3
    assert warmup_mask(np.ones(5), np.array([18.0, 6.3, 6.2, 6.4, 6.3])).all()  # 18 < 3 x 6.3


@pytest.mark.parametrize(
    "unit, base, new, shown, verdict",
    [
        ("pct", 0.01, 1.25, "+1.2 points", "unchanged"),  # a share judged in points: 1.2 points is within 5
        ("pct", 40.0, 52.0, "+12.0 points", "worse"),
        ("ns", 100.0, 12574.0, "+12474.0 %", "worse"),  # never "unchanged"
        ("ns", 100.0, 103.0, "+3.0 %", "unchanged"),
    ],
)
def test_labels_agree_with_the_change_shown(unit, base, new, shown, verdict):
    """Issue 20: a row reading '+12474 %' was labelled 'unchanged'. The change shown is the one judged."""
    from inferscope.comparison.result import MetricComparison
    from inferscope.comparison.verdict import decide
    from inferscope.render.compare import fmt_pct

    row = MetricComparison(
        "metric:x", "x", "trace", "", None, unit, "lower", "", base, new, new - base,
        100.0 * (new - base) / base, None, None, None, 1, 1, 1, 1, None, False, "undecided", "",
    )  # fmt: skip
    decide(row, None, ([np.array([base])], [np.array([new])]), threshold=0.05, level=0.95, min_share=0.005)
    assert (fmt_pct(row), row.verdict) == (shown, verdict)
