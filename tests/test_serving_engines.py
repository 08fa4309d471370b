"""Issue 22, serving-engine phases: scheduler steps and prefill/decode read from what vLLM, TensorRT-LLM and SGLang
emit, each labelled with the evidence it came from, and the same join and findings whichever engine named them.

The H200 serving loop names its steps as vLLM does (`execute_context_N(T)_generation_M(G)`, PROVENANCE.md). Two
edited copies rename them, and nothing else, as the other engines emit them: TensorRT-LLM's PyTorch executor NVTX
range `[Executor] _forward_step I: N ctx reqs, M gen reqs`, and SGLang's model-runner Python frames
(`.../model_runner.py(L): forward_extend` / `forward_decode`, category python_function, no GPU-timeline copy).
What each test expects is computed from the JSON and the request file in plain Python (tests/requests_oracle.py).
"""

from __future__ import annotations

import pytest

from tests import kineto_edits
from tests import requests_oracle as oracle

pytestmark = pytest.mark.skipif(not oracle.KINETO.exists(), reason="shared H200 serving trace missing")

SGLANG_FRAME = "python/sglang/srt/model_executor/model_runner.py(1812): forward_{}"


def _renamed(tmp_path, engine: str):
    doc = kineto_edits.load(oracle.KINETO)
    events, i = [], 0
    for e in sorted(doc["traceEvents"], key=lambda e: e.get("ts", 0)):
        m = oracle.STEP.match(str(e.get("name", "")))
        if not m or e.get("ph") != "X":
            events.append(e)
            continue
        n, _, g, _ = map(int, m.groups())
        if engine == "trtllm":
            e["name"] = f"[Executor] _forward_step {i}: {n} ctx reqs, {g} gen reqs"
            i += e.get("cat") == "user_annotation"
        elif e.get("cat") == "gpu_user_annotation":
            continue  # SGLang's frames have no GPU-timeline copy
        else:
            e["cat"], e["name"] = "python_function", SGLANG_FRAME.format("extend" if n else "decode")
        events.append(e)
    doc["traceEvents"] = events
    return kineto_edits.save(doc, tmp_path / f"h200_serving_steps_named_as_{engine}.json.gz")


@pytest.mark.parametrize("engine", ["trtllm", "sglang"])
def test_steps_and_phases_from_each_engines_naming(tmp_path, open_trace, engine):
    steps, _, _ = oracle.kineto_raw()
    t = open_trace(_renamed(tmp_path, engine))
    got = t.sql(
        "SELECT kind, start_ns, end_ns, context_requests, generation_requests, evidence FROM serving_steps "
        "ORDER BY step_id"
    )
    kinds = ["prefill" if s["n"] and not s["m"] else "decode" for s in steps]
    assert got["kind"].tolist() == kinds
    durations = (got["end_ns"] - got["start_ns"]).tolist()  # the model's clock starts at the trace's zero
    assert durations == pytest.approx([s["end"] - s["start"] for s in steps], abs=1000)
    if engine == "trtllm":
        assert got["context_requests"].tolist() == [s["n"] for s in steps]
        assert got["generation_requests"].tolist() == [s["m"] for s in steps]
        assert set(got["evidence"]) == {
            "annotation _forward_step: N ctx reqs, M gen reqs (TensorRT-LLM PyTorch executor)"
        }
    else:  # SGLang's frames carry the mode only
        assert got["context_requests"].isna().all() and got["generation_requests"].isna().all()
        assert set(got["evidence"]) == {
            "Python frame model_runner.py: forward_extend (SGLang ModelRunner)",
            "Python frame model_runner.py: forward_decode (SGLang ModelRunner)",
        }
    # the same ranges are the trace's steps, with the phase their names say
    phases = t.sql("SELECT phase, count(*) AS n FROM steps GROUP BY phase")
    assert dict(zip(phases["phase"], phases["n"].tolist())) == {k: kinds.count(k) for k in set(kinds)}


@pytest.mark.parametrize("engine", ["trtllm", "sglang"])
def test_the_join_finds_the_same_head_of_line_blocking(tmp_path, open_trace, engine):
    """Head-of-line blocking needs only which steps were prefills and when: the prefills that ran while another
    request was decoding, counted from the raw files, are the finding's evidence whatever engine named them."""
    steps, _, requests = oracle.kineto_raw()
    hol = [
        s
        for s in steps
        if s["n"] > 0 and any(r["first"] <= s["start"] and r["end"] >= s["end"] for r in requests.values())
    ]
    a = open_trace(_renamed(tmp_path, engine)).analyze(requests=oracle.KINETO_REQUESTS)
    (found,) = [f for f in a.findings if f.rule_id == "serving_head_of_line"]
    assert found.evidence_total == len(hol)
    assert found.impact_ns == pytest.approx(sum(s["end"] - s["start"] for s in hol), abs=1000 * len(hol))


def test_the_vllm_b200_trace_step_is_a_serving_step(open_trace):
    """vLLM on the B200 names its one step `execute_context_1(888_788544)_generation_0(0)`: a prefill of one
    request whose token field is not one number, so its token count stays unknown (counted from the JSON)."""
    vllm = oracle.TRACES / "kineto" / "vllm_gptoss_b200_tp8_rank0_eager.json.gz"
    if not vllm.exists():
        pytest.skip(f"{vllm.name} not in the shared traces")
    doc = kineto_edits.load(vllm)
    label = kineto_edits.re.compile(r"^execute_context_(\d+)\(([\d_]*)\)_generation_(\d+)\(([\d_]*)\)")
    named = [
        label.match(e["name"]).groups()
        for e in doc["traceEvents"]
        if e.get("cat") == "user_annotation" and e.get("ph") == "X" and label.match(str(e.get("name", "")))
    ]
    got = open_trace(vllm).sql("SELECT kind, context_requests, context_tokens, generation_requests FROM serving_steps")
    assert [(int(n), int(m)) for n, _, m, _ in named] == list(
        zip(got["context_requests"].tolist(), got["generation_requests"].tolist())
    )
    assert got["kind"].tolist() == ["prefill" if int(n) and not int(m) else "decode" for n, _, m, _ in named]
    assert [t if "_" not in t else None for _, t, _, _ in named] == [
        None if v != v else str(int(v)) for v in got["context_tokens"].tolist()
    ]
