"""The rules that name the Python code behind GPU idle time, on bundles whose GPU side is a real export.

There is no GPU here, so no recording with GPU work can be made. tests/synth.py builds bundles from shared nsys
exports edited to show the pattern (a long GPU gap; host-bound steps) with SYNTHETIC Python samples at 100 Hz
planted where the GPU waited, on the thread that launched the work. The oracle is that construction: the finding
names the planted code, on that thread and device, with the gap's length; the same exports without samples give
no finding (tests/test_rules_fire.py).
"""

from __future__ import annotations


from tests import synth
from tests.conftest import NSYS_TRACES, needs_shared

pytestmark = needs_shared


def test_python_gpu_idle_names_the_code_that_ran_during_a_long_gap(tmp_path):
    import inferscope

    bundle, gaps = synth.python_gap(tmp_path)
    assert gaps, "the edited export must have a long gap"
    with inferscope.open(bundle, use_cache=False) as t:
        analysis = t.analyze()
    assert not analysis.rule_errors
    found = [f for f in analysis.findings if f.rule_id == "python_gpu_idle"]
    by_device = {g["device_id"]: g for g in gaps}
    assert {f.device_id for f in found} == set(by_device)
    for f in found:
        g = by_device[f.device_id]
        assert f.evidence.column("function").to_pylist() == ["Tokenizer.encode"]
        assert (f.pid, f.tid) == (g["pid"], g["tid"])
        assert f.impact_ns == g["dur_ns"]  # every sample in the gap is in Tokenizer.encode
        assert f.summary.startswith(f"GPU {f.device_id} idled ")
        assert "while MainThread was in Tokenizer.encode (tokenize.py:88)" in f.summary
    print("\n" + found[0].summary)


def test_python_host_bound_steps_names_the_code_in_the_steps(tmp_path):
    import inferscope

    bundle, steps = synth.python_steps(tmp_path)
    bound = [s for s in steps if s["gpu_busy_pct"] < 50]
    assert len(bound) >= 4
    with inferscope.open(bundle, use_cache=False) as t:
        analysis = t.analyze()
    [f] = [f for f in analysis.findings if f.rule_id == "python_host_bound_steps"]
    ev = f.evidence.to_pylist()
    # attributed to the decoder: host-bound steps whose hole holds at least as many samples as the rest of the
    # step (a tie goes to the file that sorts first, /app/detok.py)
    hole = synth.HOLE_NS
    expected = {
        s["step_id"]
        for s in bound
        if len(synth.sample_times(s["start_ns"], s["start_ns"] + hole))
        >= len(synth.sample_times(s["start_ns"] + hole, s["end_ns"]))
    }
    assert expected and {r["step_id"] for r in ev} == expected
    assert {r["function"] for r in ev} == {"Detokenizer.decode"}
    # the figure is shown (idle_ns); the idle itself is counted once, by the idle ledger's rules (impact 0 here)
    assert sum(r["idle_ns"] for r in ev) == sum(
        (r["dur_ns"] - r["gpu_busy_ns"]) * r["samples"] // r["step_samples"] for r in ev
    )
    assert f.impact_ns == 0
    assert "Detokenizer.decode (detok.py:12) on MainThread" in f.summary
    print("\n" + f.summary)


def test_python_rules_are_silent_on_a_trace_without_samples(open_trace):
    a = open_trace(NSYS_TRACES / "a100x4_cloverleaf_nsys2024.5.sqlite").analyze()
    assert not [f for f in a.findings if f.rule_id.startswith("python_")]
    assert not [e for e in a.rule_errors if "python_" in e]


def test_python_hot_frames_stays_out_of_traces_with_gpu_work(tmp_path):
    """With GPU work the samples belong to the GPU rules: python_hot_frames gives no finding and the headline
    keeps to the GPU, while the view still holds the flat profile (checked against the planted samples)."""
    import inferscope

    bundle, gaps = synth.python_gap(tmp_path)
    with inferscope.open(bundle, use_cache=False) as t:
        analysis = t.analyze()
        profile = t.sql(
            "SELECT function, self_samples, total_samples, all_samples FROM python_hot_frames ORDER BY function"
        ).to_dict("records")
        n = int(t.sql("SELECT count(*) FROM python_samples").iloc[0, 0])
    assert not analysis.rule_errors
    assert [f for f in analysis.findings if f.rule_id == "python_gpu_idle"]
    assert not [f for f in analysis.findings if f.rule_id in ("python_hot_frames", "bundle_incomplete")]
    assert "Python time went" not in analysis.headline
    by_function = {r["function"]: r for r in profile}
    planted = sum(len(synth.sample_times(g["start_ns"], g["end_ns"])) for g in gaps)
    assert by_function["Tokenizer.encode"]["self_samples"] == planted
    assert sum(r["self_samples"] for r in profile) == n == profile[0]["all_samples"]
    # every planted stack ends in its script's <module>: on the stack in all samples, never the running code
    assert sum(r["total_samples"] for r in profile if r["function"] == "<module>") == n
