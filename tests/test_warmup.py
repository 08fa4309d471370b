"""Cold-start detection (issue 19, class 3): the warmup view and the cold_start rule fire on traces that are mostly
start-up and stay silent on steady ones, and steady-state advice is not given for warm-up work.

Expectations come from the raw files (sqlite3 over the nsys export, json over the Kineto file), never from
InferScope's own output. Where no shared trace has the case, an edited copy of a real one does (tests/kineto_edits
style: one change, named in the file name).
"""

from __future__ import annotations

import sqlite3
import statistics

import pytest

from tests import kineto_edits
from tests.conftest import TRACES

NVFUSER = TRACES / "nsys" / "h200_nvfuser_matmul_nsys2024.6.sqlite"
CUDAGRAPH = TRACES / "h200" / "h200_llm_decode_cudagraph.json.gz"
ALEXNET = TRACES / "kineto" / "alexnet_cuda_sync.json.gz"
STARTUP_NAMES = ("cuModuleLoad", "cuLibraryLoad", "nvrtc", "nvJitLink", "cublasCreate", "cublasLtCreate", "cudnnCreate")

pytestmark = pytest.mark.skipif(not NVFUSER.exists(), reason=f"shared traces not found ({TRACES})")


def _cold_start(analysis):
    return [f for f in analysis.findings if f.rule_id == "cold_start"]


def test_nvrtc_compilation_makes_the_nvfuser_trace_mostly_start_up(open_trace):
    """nvFuser compiles its kernel with NVRTC inside the profiled window: the compile range alone is a large share of
    the process's span, so the trace is start-up and the rule must say so, with the compile as evidence."""
    con = sqlite3.connect(NVFUSER)
    start, end = con.execute(
        "SELECT n.start, n.end FROM NVTX_EVENTS n LEFT JOIN StringIds s ON s.id = n.textId "
        "WHERE coalesce(n.text, s.value) = 'KernelExecutor::compileFusion'"
    ).fetchone()
    lo, hi = con.execute(
        "SELECT min(s), max(e) FROM (SELECT start s, end e FROM CUPTI_ACTIVITY_KIND_RUNTIME "
        "UNION ALL SELECT start, end FROM CUPTI_ACTIVITY_KIND_KERNEL)"
    ).fetchone()
    compile_share = (end - start) / (hi - lo) * 100
    assert compile_share > 25  # the case: compilation is a large share of the trace

    t = open_trace(NVFUSER)
    (row,) = t.sql("SELECT * FROM warmup").to_dict("records")
    assert row["start_ns"] <= start and row["end_ns"] >= end  # the compile lies inside the warm-up window
    assert row["jit_ns"] >= end - start
    found = _cold_start(t.analyze())
    assert len(found) == 1 and found[0].severity == "high"
    assert "compileFusion" in found[0].summary and "--skip-warmup" in found[0].recommendation


def test_the_cuda_graph_decode_trace_is_steady(open_trace):
    """Steady by construction (PROVENANCE.md): no start-up calls, and no decode step twice its neighbours' median;
    no warm-up window and no cold-start finding may appear."""
    doc = kineto_edits.load(CUDAGRAPH)
    names = {e.get("name", "") for e in doc["traceEvents"] if e.get("cat") in ("cuda_runtime", "cuda_driver")}
    assert not [n for n in names if n.startswith(STARTUP_NAMES)]
    decode = [e["dur"] for e in kineto_edits.steps(doc, kineto_edits.re.compile(r"^decode_step"))]
    assert len(decode) == 64 and decode[0] < 2 * statistics.median(decode[1:])

    t = open_trace(CUDAGRAPH)
    assert t.sql("SELECT count(*) AS n FROM warmup")["n"][0] == 0
    assert _cold_start(t.analyze()) == []


def test_a_warm_up_annotation_covering_the_trace_fires(open_trace):
    """The PARAM benchmark's alexnet trace is its warm-up phase, annotated `...|warmup|forward`."""
    doc = kineto_edits.load(ALEXNET)
    warm = [e for e in doc["traceEvents"] if "warmup" in str(e.get("name", "")) and e.get("ph") == "X"]
    assert warm
    t = open_trace(ALEXNET)
    (row,) = t.sql("SELECT * FROM warmup").to_dict("records")
    assert row["annotation_ns"] >= max(e["dur"] for e in warm) * 1000 - 1000
    assert row["share_pct"] > 90
    assert len(_cold_start(t.analyze())) == 1


def lazy_load_copy(tmp_path, load_ms: float = 350.0, name: str = "cudagraph_lazy_module_load"):
    """The CUDA-graph decode trace with a cuModuleLoadData call of `load_ms` on the main thread before its work:
    every event moves later by load_ms + 1 ms, the load takes the freed start. Returns (path, load end in ns
    since the trace start, kernel start times in ns since the trace start)."""
    doc = kineto_edits.load(CUDAGRAPH)
    zero = min(e["ts"] for e in doc["traceEvents"] if e.get("cat") == "Trace")
    shift = (load_ms + 1) * 1000.0
    first = min(e["ts"] for e in doc["traceEvents"] if e.get("cat") == "cuda_runtime")
    main = next(e for e in doc["traceEvents"] if e.get("cat") == "cuda_runtime")
    for e in doc["traceEvents"]:
        if e.get("ph") != "M" and "ts" in e and e.get("cat") != "Trace":
            e["ts"] = e["ts"] + shift
        if e.get("cat") == "Trace":
            e["dur"] = e["dur"] + shift
    load = {
        "ph": "X",
        "cat": "cuda_driver",
        "name": "cuModuleLoadData",
        "pid": main["pid"],
        "tid": main["tid"],
        "ts": first,
        "dur": load_ms * 1000.0,
        "args": {"correlation": 1, "External id": 0},
    }
    doc["traceEvents"].append(load)
    kernels = [round((e["ts"] - zero) * 1000) for e in doc["traceEvents"] if e.get("cat") == "kernel"]
    path = kineto_edits.save(doc, tmp_path / f"{name}.json.gz")
    return path, round((first + load_ms * 1000.0 - zero) * 1000), kernels


def test_a_lazy_module_load_before_the_work_makes_it_start_up(tmp_path, cache_dir):
    """The steady trace with one 350 ms module load in front: now most of it is start-up."""
    import inferscope

    path, load_end, _ = lazy_load_copy(tmp_path)
    t = inferscope.open(path, cache_dir=cache_dir)
    (row,) = t.sql("SELECT * FROM warmup").to_dict("records")
    prefill = max(e["dur"] for e in kineto_edits.steps(kineto_edits.load(path), kineto_edits.re.compile("^prefill$")))
    # the window ends with the load, or with the step the load's end falls in (the prefill, which starts a little
    # before the first CUDA call the load was put in front of)
    assert row["module_loads"] == 1 and load_end <= row["end_ns"] <= load_end + prefill * 1000
    (found,) = _cold_start(t.analyze())
    assert "cuModuleLoadData" in found.summary
    # the same copy with the load shortened to 0.5 ms is steady again (below the 1 ms start-up threshold)
    small, _, _ = lazy_load_copy(tmp_path, 0.5, "cudagraph_short_module_load")
    assert _cold_start(inferscope.open(small, cache_dir=cache_dir).analyze()) == []


def test_steady_state_rules_set_warm_up_evidence_aside(open_trace):
    """A steady-state rule's finding made only of warm-up rows is an info note with no impact, and no steady finding
    keeps a time window that lies inside the warm-up window (the nsys LLM trace loads its model inside the trace)."""
    path = TRACES / "h200" / "h200_nsys_llm_serving_nsys2025.3.sqlite.gz"
    t = open_trace(path)
    (w,) = t.sql("SELECT * FROM warmup").to_dict("records")
    analysis = t.analyze()
    from inferscope.analyze import rules

    steady_ids = {r.id for r in rules.discover()[0] if r.steady_state}
    assert {"launch_overhead", "alloc_churn"} <= steady_ids
    notes = [f for f in analysis.findings if f.rule_id in steady_ids and f.summary.startswith("Only during warm-up")]
    assert notes, "the model load's pageable copies happen in the warm-up window"
    for f in notes:
        assert f.severity == "info" and f.impact_ns == 0 and "--skip-warmup" in f.recommendation
        assert all(w["start_ns"] <= s and e <= w["end_ns"] for s, e in f.windows)
    for f in analysis.findings:
        if f.rule_id in steady_ids and f not in notes and f.windows:
            assert not all(w["start_ns"] <= s and e <= w["end_ns"] for s, e in f.windows), f.summary
