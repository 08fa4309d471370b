"""Every built-in rule on a trace where it must fire and on one where it must not.

Shared exports are used where they show the pattern; otherwise tests/synth.py builds a small trace on the real nsys
schema (a copy of a shared export edited with sqlite3) and the case names say so ("synth_..."). Where a number can
be computed independently from the raw export, the test checks the finding's figure against it.
"""

from __future__ import annotations

import shutil
import sqlite3

import pytest

from tests import gpu_metric_edits, synth
from tests.conftest import KINETO_TRACES, NSYS_TRACES, TRACES, needs_shared

pytestmark = needs_shared

SAXPY = "a100_saxpy_mpi_nsys2022.2.sqlite"
CLOVER = "a100x4_cloverleaf_nsys2024.5.sqlite"
H100 = "h100_2gpu_fastvideo.sqlite"
MOCK = "nsys_ai_mock.sqlite"
H200_METRICS = "h200_gpu_metrics_nsys2025.3.sqlite.gz"


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    d = tmp_path_factory.mktemp("synth")
    return {
        "synth_memset_sync": synth.memset_sync(d),
        "synth_long_gap": synth.long_gap(d),
        "synth_steps": synth.stepped(d, "synth_steps")[0],
        "synth_host_bound_steps": synth.stepped(d, "synth_host_bound_steps", hole_ns=60_000_000)[0],
        "synth_nccl_exposed": synth.nccl(d, overlapped=False),
        "synth_nccl_overlapped": synth.nccl(d, overlapped=True),
        "synth_uneven_gpus": synth.uneven_gpus(d),
        # real cloverleaf export with GPU memory events added on the real schema (tests/memory_trace.py)
        "synth_memory_95pct": _memory_trace(d / "memory_95.sqlite", 0.95),
        "synth_memory_50pct": _memory_trace(d / "memory_50.sqlite", 0.50),
        "synth_kineto_input_bound": _kineto_input_bound(d),
        # bundles: edited exports with synthetic Python samples planted where the GPU waited (tests/synth.py)
        "synth_python_gap": synth.python_gap(d)[0],
        "synth_python_steps": synth.python_steps(d)[0],
        # the real H200 GPU-metrics export with GPU_METRICS values edited (tests/gpu_metric_edits.py)
        "synth_gm_stalled_gemms": gpu_metric_edits.stalled_gemms(d),
        "synth_gm_simt_gemms": gpu_metric_edits.simt_gemms(d),
        "synth_gm_dram_bound_phase2": gpu_metric_edits.dram_bound_phase(d),
        "synth_gm_flat_clock": gpu_metric_edits.flat_clock(d),
        "synth_gm_half_pcie": gpu_metric_edits.half_pcie(d),
        "synth_gm_fp32_named_idle": gpu_metric_edits.fp32_named_gemms(d, tensor_idle=True),
        "synth_gm_fp32_named_busy": gpu_metric_edits.fp32_named_gemms(d, tensor_idle=False),
    }


def _kineto_input_bound(d):
    """A PyTorch profiler trace whose 100 µs step spends 12 µs in its DataLoader (tests/test_kineto_analyze.py)."""
    from tests.test_ingest_kineto import write
    from tests.test_kineto_analyze import _input_bound_trace

    return write(d / "kineto_input_bound.json", _input_bound_trace(12))


def _memory_trace(dst, fraction):
    from tests import memory_trace

    memory_trace.build(dst, fraction)
    return dst


@pytest.fixture(scope="session")
def recorded(tmp_path_factory):
    """Real `inferscope record` bundles (tests/test_record_outcomes.py), recorded on first use ("rec_..." cases)."""
    d = tmp_path_factory.mktemp("recorded")
    made = {}

    def get(name):
        if name not in made:
            from tests.test_record_outcomes import hot_bundle, lost_bundle

            if name == "rec_lost_trace" and shutil.which("nsys") is None:
                pytest.skip("recording a lost nsys trace needs the nsys CLI (.ci/run installs it)")
            made[name] = {"rec_hot_loop": hot_bundle, "rec_lost_trace": lost_bundle}[name](d / name)
        return made[name]

    return get


def trace_path(name, built, recorded=None):
    if name.startswith("synth_"):
        return built[name]
    if name.startswith("rec_"):
        return recorded(name)
    if name.startswith("h200_"):
        return TRACES / "h200" / name
    return KINETO_TRACES / name if name.endswith(".json.gz") else NSYS_TRACES / name


# (rule, trace, params) where the rule must report at least one finding
FIRES = [
    ("cuda_memcpy_async", H100, {}),
    ("cuda_memcpy_sync", CLOVER, {}),
    ("cuda_memset_sync", "synth_memset_sync", {}),
    ("cuda_api_sync", CLOVER, {}),
    ("gpu_gaps", "synth_long_gap", {}),
    ("gpu_gaps", SAXPY, {"gap_ns": 1_000_000}),
    ("gpu_time_util", SAXPY, {}),
    ("sync_stall", CLOVER, {}),
    ("idle_gap_attribution", SAXPY, {}),
    ("launch_overhead", H100, {}),
    ("copy_bound", H100, {}),
    ("tensor_core_unused", H100, {}),
    ("low_sm_fill", SAXPY, {}),
    ("alloc_churn", CLOVER, {}),
    ("alloc_churn", "synth_steps", {}),
    ("nccl_exposed", "synth_nccl_exposed", {}),
    ("device_imbalance", "synth_uneven_gpus", {}),
    ("host_bound_steps", "synth_host_bound_steps", {}),
    ("memory_near_capacity", "synth_memory_95pct", {}),
    ("input_pipeline_bound", "synth_kineto_input_bound", {}),
    ("python_gpu_idle", "synth_python_gap", {}),
    ("python_host_bound_steps", "synth_python_steps", {}),
    ("python_hot_frames", "rec_hot_loop", {}),
    ("bundle_incomplete", "rec_lost_trace", {}),
    ("busy_not_working", "synth_gm_stalled_gemms", {}),
    ("tensor_cores_idle", "synth_gm_simt_gemms", {}),
    ("tensor_core_unused", "synth_gm_fp32_named_idle", {}),
    ("dram_bound_phases", "synth_gm_dram_bound_phase2", {}),
    ("pcie_saturated", H200_METRICS, {}),
    ("clock_drop", H200_METRICS, {}),
    ("cold_start", "alexnet_cuda_sync.json.gz", {}),  # the PARAM benchmark's warm-up phase, annotated so
]

# (rule, trace, params) where the rule must stay silent, and why
SILENT = [
    ("cuda_memcpy_async", CLOVER, {}),  # its copies are synchronous cudaMemcpy
    ("cuda_memcpy_sync", H100, {}),  # only cudaMemcpyAsync
    ("cuda_memset_sync", H100, {}),  # memsets are cudaMemsetAsync of device memory
    ("cuda_api_sync", SAXPY, {}),  # no device/stream synchronisation calls
    ("gpu_gaps", SAXPY, {}),  # longest gap 196 ms < 500 ms default
    ("gpu_time_util", H100, {}),  # copies keep both GPUs ~99 % busy
    ("sync_stall", H100, {}),  # its 8 stream syncs expose < 1 % idle
    # its copies return early in 170-200 ms gaps the launching thread then spends in its own CPU code (CPU samples in
    # main): the idle ledger gives those gaps to host work, not to the waits before it
    ("sync_stall", SAXPY, {}),
    ("idle_gap_attribution", H100, {}),  # idle is 0.7 % of the span
    ("launch_overhead", CLOVER, {}),  # 9 % of kernels shorter than their launch
    ("copy_bound", CLOVER, {}),  # copies 2.7 % of the span
    ("tensor_core_unused", CLOVER, {}),  # no GEMM kernels
    ("low_sm_fill", CLOVER, {}),  # its 16-block kernels last ~5 µs
    ("alloc_churn", H100, {}),  # no allocation calls
    ("nccl_exposed", "synth_nccl_overlapped", {}),
    ("nccl_exposed", H100, {}),  # no NCCL kernels
    ("device_imbalance", H100, {}),  # two equally busy GPUs
    ("device_imbalance", CLOVER, {}),  # one GPU did all the work; the idle three ran nothing
    ("host_bound_steps", "synth_steps", {}),  # same steps without host holes: GPU busy ~88 %
    ("memory_near_capacity", "synth_memory_50pct", {}),  # peak at half of the device's memory
    ("memory_near_capacity", H100, {}),  # no memory events, no device capacity
    ("input_pipeline_bound", "v100_rank1_train.json.gz", {}),  # Kineto steps with no DataLoader ranges
    ("input_pipeline_bound", H100, {}),  # nsys trace without profiler steps
    ("python_gpu_idle", "synth_long_gap", {}),  # the same gap, but no Python samples
    ("python_host_bound_steps", "synth_host_bound_steps", {}),  # the same steps, but no Python samples
    ("python_hot_frames", "synth_python_gap", {}),  # GPU work: the samples belong to python_gpu_idle
    ("bundle_incomplete", "rec_hot_loop", {}),  # a recording that ended normally
    ("busy_not_working", H200_METRICS, {}),  # bf16 GEMMs: Tensor Active ~94 %; copy phases run no kernels
    ("busy_not_working", "synth_gm_simt_gemms", {}),  # no Tensor Cores, but SM Issue 80 %: working
    ("busy_not_working", H100, {}),  # no GPU metrics
    ("tensor_cores_idle", H200_METRICS, {}),  # the GEMMs keep the Tensor Cores ~94 % busy
    ("tensor_cores_idle", "synth_gm_fp32_named_idle", {}),  # FP32-named GEMMs are tensor_core_unused's
    ("tensor_cores_idle", H100, {}),  # no GPU metrics
    ("tensor_core_unused", "synth_gm_fp32_named_busy", {}),  # FP32 name, but Tensor Active ~94 % measured
    ("dram_bound_phases", H200_METRICS, {}),  # DRAM read at most ~15 % of peak in any phase
    ("dram_bound_phases", H100, {}),  # no GPU metrics
    ("pcie_saturated", "synth_gm_half_pcie", {}),  # the same copies at ~46 % of the link
    ("pcie_saturated", H100, {}),  # copies, but no GPU metrics
    ("clock_drop", "synth_gm_flat_clock", {}),  # clock steady at 1980 MHz
    ("clock_drop", H100, {}),  # no GPU metrics
    ("cold_start", H100, {}),  # a 1 s window of steady inference: no start-up calls, no steps
    ("cold_start", CLOVER, {}),  # no module loading, JIT or handle creation in the window
]


def findings_of(open_trace, path, rule, params):
    a = open_trace(path).analyze(params={rule: params} if params else None)
    assert a.rule_errors == []
    return a, [f for f in a.findings if f.rule_id == rule]


@pytest.mark.parametrize("rule,trace,params", FIRES, ids=[f"{r}-{t.split('.')[0]}" for r, t, _ in FIRES])
def test_rule_fires(rule, trace, params, built, recorded, open_trace):
    a, found = findings_of(open_trace, trace_path(trace, built, recorded), rule, params)
    assert found, f"{rule} did not fire on {trace}"
    for f in found:
        assert f.summary and f.recommendation and "{" not in f.summary + f.recommendation
        assert f.evidence.num_rows > 0 and f.evidence_total >= f.evidence.num_rows
        assert f.impact_ns == sum(f.evidence.column("impact_ns").to_pylist()) or f.evidence_total > f.evidence.num_rows


@pytest.mark.parametrize("rule,trace,params", SILENT, ids=[f"{r}-{t.split('.')[0]}" for r, t, _ in SILENT])
def test_rule_stays_silent(rule, trace, params, built, recorded, open_trace):
    _, found = findings_of(open_trace, trace_path(trace, built, recorded), rule, params)
    assert found == [], [f.summary for f in found]


def test_every_builtin_rule_is_covered():
    from inferscope.analyze import rules

    ids = {r.id for r in rules.discover()[0]}
    assert ids == {r for r, _, _ in FIRES} == {r for r, _, _ in SILENT}


# --- figures checked against the raw export -----------------------------------------------------------------------


def test_memset_sync_reports_the_edited_memset(built, open_trace):
    con = sqlite3.connect(built["synth_memset_sync"])
    start, end = con.execute('SELECT start, "end" FROM CUPTI_ACTIVITY_KIND_MEMSET WHERE memKind = 1').fetchone()
    _, found = findings_of(open_trace, built["synth_memset_sync"], "cuda_memset_sync", {})
    assert [(r["start_ns"], r["dur_ns"]) for f in found for r in f.evidence.to_pylist()] == [(start, end - start)]


def test_long_gap_is_the_inserted_hole(built, open_trace):
    _, found = findings_of(open_trace, built["synth_long_gap"], "gpu_gaps", {})
    (f,) = found
    (row,) = f.evidence.to_pylist()
    assert f.evidence_total == 1 and 600_000_000 <= row["dur_ns"] < 700_000_000
    assert f.impact_ns == 0  # the gap's idle belongs to the idle ledger's owner (tests/test_idle_ledger.py)


def test_nccl_exposed_equals_the_renamed_kernel_time(built, open_trace):
    con = sqlite3.connect(built["synth_nccl_exposed"])
    total = con.execute(
        'SELECT sum(k."end" - k.start) FROM CUPTI_ACTIVITY_KIND_KERNEL k JOIN StringIds s '
        "ON s.id = k.shortName WHERE s.value LIKE 'nccl%'"
    ).fetchone()[0]
    _, found = findings_of(open_trace, built["synth_nccl_exposed"], "nccl_exposed", {})
    # one stream: nothing overlaps the NCCL kernels, so all of their time is exposed (rounding of the split: +-1 ns each)
    assert abs(sum(f.impact_ns for f in found) - total) <= 2


def test_device_imbalance_impact_is_the_busy_difference(built, open_trace):
    a, found = findings_of(open_trace, built["synth_uneven_gpus"], "device_imbalance", {})
    busy = {r["device_id"]: r["busy_ns"] for r in a.devices.to_pylist()}
    assert sum(f.impact_ns for f in found) == max(busy.values()) - min(busy.values()) > 0


def test_host_bound_steps_flags_the_steps_with_holes(built, open_trace):
    a, found = findings_of(open_trace, built["synth_host_bound_steps"], "host_bound_steps", {})
    (f,) = found
    steps = a.steps.to_pylist()
    flagged = {r["step_id"] for r in f.evidence.to_pylist()}
    assert flagged == {s["step_id"] for s in steps if s["gpu_busy_pct"] < 50}
    assert len(flagged) >= 0.5 * len(steps)
    # each hole is 60 ms of step time with an idle GPU, shown but owned by the idle ledger's rules
    assert all(r["idle_ns"] >= 60_000_000 and r["impact_ns"] == 0 for r in f.evidence.to_pylist())


def test_low_sm_fill_uses_the_sm_count(open_trace):
    _, found = findings_of(open_trace, NSYS_TRACES / SAXPY, "low_sm_fill", {})
    row = found[0].evidence.to_pylist()[0]
    assert (row["short_name"], row["blocks"], row["sm_count"]) == ("saxpy", 2, 108)
    assert row["impact_ns"] == round(row["dur_ns"] * (1 - 2 / 108))


def test_first_use_loads_are_start_up_not_launch_overhead(open_trace):
    """nsys-ai's mock export: its two cudaLaunchKernel calls each last ~17 ms for µs kernels (raw export, read
    with sqlite3), the driver loading modules on first use. That is start-up: cold_start owns the idle, and
    neither launch_overhead nor idle-gap attribution claims it as steady-state cost (they did before issue 19)."""
    path = NSYS_TRACES / MOCK
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    slow = con.execute(
        "SELECT count(*) FROM CUPTI_ACTIVITY_KIND_RUNTIME r JOIN StringIds s ON s.id = r.nameId "
        "WHERE s.value LIKE 'cudaLaunchKernel%' AND r.end - r.start >= 10000000"
    ).fetchone()[0]
    assert slow == 2
    a = open_trace(path).analyze()
    cold = [f for f in a.findings if f.rule_id == "cold_start"]
    assert cold and cold[0].impact_ns >= 0.5 * a.value("gpu_idle_ns")
    assert all(f.impact_ns == 0 for f in a.findings if f.rule_id in ("launch_overhead", "idle_gap_attribution"))
    assert a.headline.startswith("Mostly start-up")
