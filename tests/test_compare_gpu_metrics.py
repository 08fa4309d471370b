"""compare (issue 24) explains a step-time change with the GPU's SM and Tensor Core activity when both sides were
recorded with GPU metrics: the real H200 GPU-metrics export (../shared/traces/PROVENANCE.md) against a named edit
of it whose GEMM steps run 100 ms longer (tests/gpu_metric_edits.py). The per-step means are recomputed here from the
raw files with sqlite3; traces without metrics get no such rows and no such words."""

from __future__ import annotations

import sqlite3

import pytest

import inferscope
from tests import gpu_metric_edits
from tests.conftest import needs_shared
from tests.test_gpu_metrics import SMS, TENSOR, read_series

pytestmark = needs_shared

GEMM_STEPS = ["^phase_[024]$"]


def _step_means(path) -> dict[str, list[float]]:
    """Per GEMM step (phase_0/2/4 in time order), the time-weighted SMs Active and Tensor Active from the raw file."""
    s = read_series(path)
    con = sqlite3.connect(path)
    steps = con.execute(
        "SELECT start, \"end\" FROM NVTX_EVENTS WHERE text IN ('phase_0', 'phase_2', 'phase_4') ORDER BY start"
    ).fetchall()
    con.close()
    return {name: [s[name].mean(a, b) for a, b in steps] for name in (SMS, TENSOR)}


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    d = tmp_path_factory.mktemp("cmp_gm")
    base, _ = gpu_metric_edits.plain_copy(d, "gm_base")
    new = gpu_metric_edits.longer_gemm_steps(d)
    c = inferscope.compare(base, new, step_patterns=GEMM_STEPS, cache_dir=d / "cache")
    return base, new, c


def test_compare_rows_are_the_per_step_gpu_activity_of_each_side(pair):
    base, new, c = pair
    rows = {r.id: r for r in c.metrics}
    for path, side in ((base, "base_value"), (new, "new_value")):
        want = _step_means(path)
        assert getattr(rows["step_sm_active_pct"], side) == pytest.approx(sum(want[SMS]) / 3, rel=1e-9)
        assert getattr(rows["step_tensor_active_pct"], side) == pytest.approx(sum(want[TENSOR]) / 3, rel=1e-9)
    for metric in ("step_sm_active_pct", "step_tensor_active_pct"):
        assert rows[metric].role == "explanation" and not rows[metric].gated


def test_compare_summary_explains_the_slower_steps_with_lower_activity(pair):
    base, new, c = pair
    b, n = _step_means(base), _step_means(new)
    rows = {r.id: r for r in c.metrics}
    assert rows["step_time_ns"].delta == pytest.approx(100_000_000, rel=1e-6)  # each step 100 ms longer
    sm_b, sm_n = sum(b[SMS]) / 3, sum(n[SMS]) / 3
    tc_b, tc_n = sum(b[TENSOR]) / 3, sum(n[TENSOR]) / 3
    assert sm_n < sm_b and tc_n < tc_b  # the added 100 ms ran no kernels
    want = f"GPU counters per step: SMs Active {sm_b:.0f} % -> {sm_n:.0f} %, Tensor Active {tc_b:.0f} % -> {tc_n:.0f} %"
    assert want in c.summary


def test_compare_without_metrics_on_both_sides_says_nothing_of_gpu_activity(tmp_path):
    base = gpu_metric_edits.fp32_named_gemms(tmp_path, tensor_idle=False, keep_metrics=False)
    new = gpu_metric_edits.longer_gemm_steps(tmp_path, keep_metrics=False)
    c = inferscope.compare(base, new, step_patterns=GEMM_STEPS, cache_dir=tmp_path / "cache")
    assert {r.id for r in c.metrics} & {"step_sm_active_pct", "step_tensor_active_pct"} == set()
    assert "GPU counters" not in c.summary
    # metrics on one side only: a row that only that side has, never gated, and no words in the summary
    one = inferscope.compare(
        base, gpu_metric_edits.longer_gemm_steps(tmp_path), step_patterns=GEMM_STEPS, cache_dir=tmp_path / "cache"
    )
    rows = [r for r in one.metrics if r.id in ("step_sm_active_pct", "step_tensor_active_pct")]
    assert {r.verdict for r in rows} == {"added"} and not any(r.gated for r in rows)
    assert "GPU counters" not in one.summary
