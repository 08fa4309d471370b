"""`inferscope analyze` on PyTorch profiler traces: every shared Kineto trace analyses without rule errors, the
HTA metrics (sql/metrics/hta.sql) equal the hta_* views they summarise, and the input_pipeline_bound rule fires on
a step that waits for its DataLoader and stays silent otherwise."""

from __future__ import annotations

import json

import pytest

import inferscope
from tests.conftest import KINETO_TRACES, run_cli
from tests.test_ingest_kineto import PID, TID, _x, small_trace, write

needs_kineto = pytest.mark.skipif(not KINETO_TRACES.exists(), reason=f"shared Kineto traces not at {KINETO_TRACES}")
SHARED = sorted(p.name for p in KINETO_TRACES.glob("*.json.gz")) if KINETO_TRACES.exists() else []


@needs_kineto
@pytest.mark.parametrize("name", SHARED)
def test_every_shared_kineto_trace_analyses(open_trace, name):
    t = open_trace(KINETO_TRACES / name)
    a = t.analyze()
    assert a.rule_errors == []
    assert a.source_format == "kineto"
    gpu = t.table("kernels").num_rows + t.table("memcpy").num_rows + t.table("memset").num_rows > 0
    idle = [m for m in a.metrics if m.id == "hta_idle_pct"]
    assert bool(idle) == gpu  # device metrics exist exactly where there is GPU work


@needs_kineto
def test_hta_metrics_equal_the_views(open_trace):
    t = open_trace(KINETO_TRACES / "v100_rank1_train.json.gz")
    by_id = {(m.id, m.device_id): m.value for m in t.metrics() if m.id.startswith("hta_")}
    tb = t.sql("SELECT * FROM hta_temporal_breakdown").iloc[0]
    d = int(tb["device_id"])
    assert by_id[("hta_idle_pct", d)] == pytest.approx(tb["idle_pct"])
    assert by_id[("hta_compute_pct", d)] == pytest.approx(tb["compute_pct"])
    idle = t.sql("SELECT idle_category, sum(idle_ns) AS ns FROM hta_idle_time_breakdown GROUP BY 1")
    idle = dict(zip(idle["idle_category"], idle["ns"]))
    assert by_id[("hta_host_wait_ns", d)] == idle["host_wait"]
    assert by_id[("hta_kernel_wait_ns", d)] == idle["kernel_wait"]
    short = t.sql("SELECT count(*) AS n FROM hta_kernel_launch_stats WHERE gpu_dur_ns < cpu_dur_ns")["n"][0]
    assert by_id[("hta_short_kernel_count", d)] == short
    assert by_id[("hta_input_bound_steps", None)] == 0


def _input_bound_trace(loader_us):
    """small_trace's 100 µs ProfilerStep#7 with a DataLoader range of `loader_us` at its start."""
    ts0 = 1_700_000_000_000_000
    loader = _x(
        "user_annotation",
        "enumerate(DataLoader)#_SingleProcessDataLoaderIter.__next__",
        ts0 + 11,
        loader_us,
        pid=PID,
        tid=TID,
    )
    return small_trace(ts0=ts0, extra=[loader])


def test_input_pipeline_bound_fires(tmp_path):
    """A 12 µs DataLoader range in a 100 µs step: 12 % >= 5 %, so the rule reports the step; the GPU is busy
    2.25 + 3 + 1 µs of it, so the impact is the input time scaled by the step's idle share."""
    path = write(tmp_path / "input_bound.json", _input_bound_trace(12))
    a = inferscope.open(path, use_cache=False).analyze()
    (f,) = [f for f in a.findings if f.rule_id == "input_pipeline_bound"]
    assert f.pid == PID
    step_ns, input_ns, busy_ns = 100_000, 12_000, 2_250 + 3_000 + 1_000
    # shown as idle_ns; the idle itself is counted once, by the idle ledger's rules (impact 0 here)
    assert sum(r["idle_ns"] for r in f.evidence.to_pylist()) == round(input_ns * (step_ns - busy_ns) / step_ns)
    assert f.impact_ns == 0
    assert "ProfilerStep#7" in f.summary
    assert a.value("hta_input_bound_steps") == 1


def test_input_pipeline_bound_silent_below_threshold(tmp_path):
    path = write(tmp_path / "fine.json", _input_bound_trace(4))  # 4 % of the step
    a = inferscope.open(path, use_cache=False).analyze()
    assert not [f for f in a.findings if f.rule_id == "input_pipeline_bound"]
    assert a.value("hta_input_bound_steps") == 0


@needs_kineto
def test_analyze_cli_json_on_kineto(tmp_path):
    r = run_cli(
        "analyze", str(KINETO_TRACES / "nccl_args.json.gz"), "--format", "json", "--cache-dir", str(tmp_path / "cache")
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    ids = {m["id"] for m in out["metrics"]}
    assert {"hta_idle_pct", "hta_comm_comp_overlap_pct", "hta_host_wait_ns"} <= ids
