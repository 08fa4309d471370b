"""Steps must not be wrong (issue 19, class 8): DataLoader-bound steps are found whatever category spelling the
PyTorch profiler used, GPU work launched before the trace began belongs to no step, and vLLM-style
`execute_context_N(T)_generation_M(G)` annotations are scheduler steps with the phase their name says.

Edited copies of real traces make the cases; what is expected is computed from the edited JSON with plain Python.
"""

from __future__ import annotations

import pytest

import inferscope
from tests import kineto_edits
from tests.conftest import TRACES

AB_TEST = TRACES / "kineto" / "ab_test_v100.json.gz"
CUDAGRAPH = TRACES / "h200" / "h200_llm_decode_cudagraph.json.gz"
SERVING = TRACES / "h200" / "h200_serving_continuous_batching.json.gz"

pytestmark = pytest.mark.skipif(not AB_TEST.exists(), reason=f"shared traces not found ({TRACES})")


def _dataloader_copy(tmp_path, share: float, old_categories: bool):
    """ab_test_v100 with each step's DataLoader range stretched to `share` of its ProfilerStep; with
    `old_categories`, operator and annotation events spelt as PyTorch 1.8 did ('Operator'). Returns the path and
    the number of steps whose DataLoader share is at least 5 % (the rule's default), from the JSON."""
    doc = kineto_edits.load(AB_TEST)
    steps = kineto_edits.steps(doc)
    loaders = [e for e in doc["traceEvents"] if "DataLoader" in str(e.get("name", "")) and e.get("ph") == "X"]
    bound = 0
    for s in steps:
        inside = [e for e in loaders if s["ts"] <= e["ts"] < s["ts"] + s["dur"]]
        for e in inside:
            e["dur"] = min(s["dur"] * share, s["ts"] + s["dur"] - e["ts"])
        bound += sum(e["dur"] for e in inside) / s["dur"] >= 0.05
    if old_categories:
        for e in doc["traceEvents"]:
            if e.get("cat") in ("cpu_op", "user_annotation"):
                e["cat"] = "Operator"
    name = f"ab_test_dataloader_{int(share * 100)}pct{'_operator_cat' if old_categories else ''}.json.gz"
    return kineto_edits.save(doc, tmp_path / name), bound


def _input_bound(path, cache_dir):
    a = inferscope.open(path, cache_dir=cache_dir).analyze()
    return [f for f in a.findings if f.rule_id == "input_pipeline_bound"]


@pytest.mark.parametrize("old_categories", [False, True], ids=["current_categories", "pytorch18_operator_category"])
def test_dataloader_bound_steps_are_found_with_either_category_spelling(tmp_path, cache_dir, old_categories):
    path, bound = _dataloader_copy(tmp_path, 0.12, old_categories)
    assert bound == 6
    (found,) = _input_bound(path, cache_dir)
    assert found.evidence_total == bound


def test_short_dataloader_waits_are_not_input_bound(tmp_path, cache_dir):
    """The real trace's DataLoader ranges take about 0.1 % of each step: no finding, in either spelling."""
    path, bound = _dataloader_copy(tmp_path, 0.0, True)
    assert bound == 0
    assert _input_bound(path, cache_dir) == []
    assert _input_bound(AB_TEST, cache_dir) == []


def test_gpu_work_launched_before_the_trace_belongs_to_no_step(tmp_path, cache_dir):
    """The decode trace with every CUDA call up to its 20th kernel launch removed, as if the profiler had started
    just after it: the kernels of those launches still run inside the first step, but were launched before the
    trace, so the first step's kernel count drops by exactly their number."""
    doc = kineto_edits.load(CUDAGRAPH)
    launches = sorted(
        (e for e in doc["traceEvents"] if e.get("cat") == "cuda_runtime" and e.get("name") == "cudaLaunchKernel"),
        key=lambda e: e["ts"],
    )
    cut = launches[19]["ts"]
    removed = [e for e in doc["traceEvents"] if e.get("cat") in ("cuda_runtime", "cuda_driver") and e["ts"] <= cut]
    gone = {e["args"].get("correlation") for e in removed}
    first = min(kineto_edits.steps(doc, kineto_edits.re.compile("^prefill$")), key=lambda e: e["ts"])
    calls_in_first = {
        e["args"].get("correlation") for e in removed if first["ts"] <= e["ts"] < first["ts"] + first["dur"]
    }
    orphans = sum(
        1 for e in doc["traceEvents"] if e.get("cat") == "kernel" and e["args"].get("correlation") in calls_in_first
    )
    assert orphans >= 20 and calls_in_first <= gone  # the case: the first step's first kernels lose their launch
    doc["traceEvents"] = [
        e for e in doc["traceEvents"] if not (e.get("cat") in ("cuda_runtime", "cuda_driver") and e["ts"] <= cut)
    ]
    path = kineto_edits.save(doc, tmp_path / "cudagraph_first_launches_before_trace.json.gz")

    def first_step_kernels(p):
        steps = inferscope.open(p, cache_dir=cache_dir).sql("SELECT kernel_count FROM steps ORDER BY step_id")
        return int(steps["kernel_count"][0])

    assert first_step_kernels(path) == first_step_kernels(CUDAGRAPH) - orphans


def test_vllm_scheduler_steps_are_steps_with_their_phase(cache_dir):
    """`execute_context_N(T)_generation_M(G)` names one scheduler step: N requests in prefill, M in decode. Each
    CPU-side range is a step, prefill when only N > 0, decode when only M > 0, as the names say."""
    if not SERVING.exists():
        pytest.skip("serving trace not found")
    doc = kineto_edits.load(SERVING)
    label = kineto_edits.re.compile(r"^execute_context_(\d+)\([\d_]*\)_generation_(\d+)\(")
    expected = {"prefill": 0, "decode": 0, None: 0}
    for e in doc["traceEvents"]:
        m = label.match(str(e.get("name", "")))
        if m and e.get("ph") == "X" and e.get("cat") != "gpu_user_annotation":
            n, g = int(m.group(1)), int(m.group(2))
            expected["prefill" if n and not g else "decode" if g and not n else None] += 1
    assert expected["prefill"] and expected["decode"]
    t = inferscope.open(SERVING, cache_dir=cache_dir)
    got = t.sql("SELECT phase, count(*) AS n FROM steps GROUP BY phase")
    counts = {(None if p != p or p is None else p): int(n) for p, n in zip(got["phase"], got["n"])}
    assert counts == {k: v for k, v in expected.items() if v}
