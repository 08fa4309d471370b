"""The compare gate CI can trust (issue 20): the primary metrics gate, the rest explains; improvements pass,
work changes are named, hardware changes are not comparable.

Every trace here is a real one or an edited copy of one built here (tests/kineto_edits.py, named by the edit).
What each test expects is computed from the raw files with plain Python (step durations, kernel durations),
never from InferScope; several cases are ones that must NOT fail.
"""

from __future__ import annotations

import bisect
import json
import re
import statistics
from pathlib import Path

import pytest

from tests import kineto_edits as edits
from tests.conftest import TRACES, compare_json, needs_shared, run_cli

pytestmark = needs_shared

H200 = TRACES / "h200"
PINNED = H200 / "h200_h2d_pinned.json.gz"
PAGEABLE = H200 / "h200_h2d_pageable.json.gz"
EAGER = H200 / "h200_llm_decode_eager.json.gz"
GRAPH = H200 / "h200_llm_decode_cudagraph.json.gz"
KINETO_A100 = TRACES / "kineto" / "ab_control_a100.json.gz"
KINETO_V100 = TRACES / "kineto" / "ab_test_v100.json.gz"
DECODE = re.compile(r"^decode_step$")


def row(report: dict, metric: str, key: str = "") -> dict:
    (m,) = [m for m in report["metrics"] if m["id"] == metric and m["key"] == key]
    return m


def steady(durations: list[float]) -> list[float]:
    """The documented warm-up rule (docs/ci.md), restated: a first step over 3x the median of the others, with at
    least 4 steps, is left out."""
    if len(durations) >= 4 and durations[0] > 3 * statistics.median(durations[1:]):
        return durations[1:]
    return durations


GPU_WORK = ("kernel", "gpu_memcpy", "gpu_memset")
LAUNCHES = ("cuda_runtime", "cuda_driver")


def step_times(doc: dict, name: re.Pattern = edits.STEP) -> list[float]:
    """Each step's time as docs/ci.md defines it, from the raw events: a step completes at the later of its range
    end and the end of the last GPU operation launched in it (the launch call's start inside the range), and
    takes from its start, or from the previous step's completion when later, to its completion. One process."""
    steps = edits.steps(doc, name)
    launch = {
        e["args"]["correlation"]: e["ts"]
        for e in doc["traceEvents"]
        if e.get("ph") == "X" and e.get("cat") in LAUNCHES and "correlation" in e.get("args", {})
    }
    starts = [s["ts"] for s in steps]
    done = [s["ts"] + s["dur"] for s in steps]
    for e in doc["traceEvents"]:
        if e.get("ph") != "X" or e.get("cat") not in GPU_WORK:
            continue
        t = launch.get(e.get("args", {}).get("correlation"), e["ts"])
        i = bisect.bisect_right(starts, t) - 1
        if i >= 0 and t < steps[i]["ts"] + steps[i]["dur"]:
            done[i] = max(done[i], e["ts"] + e["dur"])
    out, previous = [], None
    for s, d in zip(steps, done):
        out.append(max(d - (s["ts"] if previous is None else max(s["ts"], previous)), 0.0))
        previous = d
    return out


def step_mean(path: Path, name: re.Pattern = edits.STEP) -> float:
    return statistics.fmean(steady(step_times(edits.read(path), name)))


def expected_change(base: Path, new: Path, name: re.Pattern = edits.STEP) -> float:
    """Step-time change in %, from the raw files."""
    return 100.0 * (step_mean(new, name) / step_mean(base, name) - 1.0)


def hottest_kernel(path: Path) -> str:
    durations = edits.kernel_durations(edits.read(path))
    return max(durations, key=lambda k: sum(durations[k]))


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("gate")


def test_kernels_slowed_fail_naming_them(work, cache_dir):
    slowed, names = edits.slowed_kernels(PINNED, work / "pinned__gemm_kernels_1.2x.json.gz", "sm80_xmma_gemm", 1.2)
    assert names
    base_k, new_k = edits.kernel_durations(edits.read(PINNED)), edits.kernel_durations(edits.read(slowed))
    code, report, _ = compare_json(PINNED, slowed, cache_dir=cache_dir)
    assert code == 1 and report["verdict"] == "regression"
    regressions = [m for m in report["metrics"] if m["gated"] and m["verdict"] == "regression"]
    kernels = [m for m in regressions if m["id"] == "kernel_mean_ns"]
    assert {m["key"] for m in kernels} == set(names)
    # the GEMMs are most of the GPU time, so the GPU time per step regressed with them, by what the raw file says
    gpu = row(report, "step_kernel_time_ns")
    assert {m["id"] for m in regressions} == {"kernel_mean_ns", "step_kernel_time_ns"} and gpu in regressions
    total = sum(map(sum, new_k.values())) / sum(map(sum, base_k.values()))
    assert gpu["delta_pct"] == pytest.approx(100.0 * (total - 1.0), abs=0.5)
    for m in kernels:
        expect = 100.0 * (statistics.fmean(new_k[m["key"]]) / statistics.fmean(base_k[m["key"]]) - 1.0)
        assert m["delta_pct"] == pytest.approx(expect, abs=0.05) and expect == pytest.approx(20.0, abs=0.01)
        assert m["ratio_low"] > 1.05  # the whole interval is beyond the threshold
    # the step barely moved (the edit moves nothing else; only its last GEMM now ends a little later): unchanged,
    # by what the raw file says
    expect = expected_change(PINNED, slowed)
    assert 0 < expect < 1
    assert row(report, "step_time_ns")["verdict"] == "unchanged"
    assert row(report, "step_time_ns")["delta_pct"] == pytest.approx(expect, abs=0.01)
    # the summary leads with the GPU time per step and names the slower kernel behind it
    assert re.match(
        r"GPU time per step \+19\.\d % \[\+\d+, \+\d+\] \(regression\); 1 more regression: kernel mean "
        r"duration of sm80_xmma_gemm\S* \+20\.0 % \[\+\d+, \+\d+\] \(regression\)",
        report["summary"],
    ), report["summary"]
    # must not fail: the same trace on both sides
    code, report, _ = compare_json(PINNED, PINNED, cache_dir=cache_dir)
    assert code == 0 and report["verdict"] == "pass"


def test_shorter_host_wait_between_steps_is_an_improvement(work, cache_dir):
    slow = edits.host_wait(PINNED, work / "pinned__dataloader_wait_10ms.json.gz", 10_000)
    fast = edits.host_wait(PINNED, work / "pinned__dataloader_wait_3ms.json.gz", 3_000)
    expect = expected_change(slow, fast)
    assert -25 < expect < -15  # 7 ms less of a ~37 ms step
    code, report, _ = compare_json(slow, fast, cache_dir=cache_dir)
    assert code == 0 and report["verdict"] == "improvement"
    step = row(report, "step_time_ns")
    assert step["verdict"] == "improvement" and step["delta_pct"] == pytest.approx(expect, abs=0.1)
    assert step["ratio_high"] < 0.95
    # the summary line leads with the step time and names what explains it
    s = report["summary"]
    assert re.match(r"step time -\d+\.\d % \[-\d+, -\d+\] \(improved\): ", s), s
    assert "DataLoader wait per step -7 ms explains" in s, s
    explains = float(re.search(r"explains (\d+) %", s).group(1))
    assert 90 <= explains <= 110
    assert not report["work_changes"]
    # the reverse is a regression of the same size
    code, report, _ = compare_json(fast, slow, cache_dir=cache_dir)
    assert code == 1 and row(report, "step_time_ns")["verdict"] == "regression"


def test_window_cut_to_half_passes(work, cache_dir):
    full_steps = len(edits.steps(edits.read(EAGER), DECODE))
    half = edits.first_steps(EAGER, work / "eager__first_32_decode_steps.json.gz", full_steps // 2, DECODE)
    assert len(edits.steps(edits.read(half), DECODE)) == full_steps // 2
    # the first decode step is a warm-up (46 ms against ~6.3 ms): with it the half window's mean is 7 % higher,
    # without it the same steps, fewer of them
    first = [s["dur"] for s in edits.steps(edits.read(EAGER), DECODE)]
    assert first[0] > 3 * statistics.median(first[1:])
    assert abs(expected_change(EAGER, half, DECODE)) < 2
    code, report, _ = compare_json(EAGER, half, "--step-pattern", "^decode_step$", cache_dir=cache_dir)
    assert code == 0, report.get("summary")
    # pass, or inconclusive where a kernel's per-call time depends on the step's position (the KV-cache copy
    # grows with the sequence): never a regression
    assert report["verdict"] in ("pass", "inconclusive")
    step = row(report, "step_time_ns")
    assert step["verdict"] == "unchanged" and step["delta_pct"] == pytest.approx(
        expected_change(EAGER, half, DECODE), abs=0.1
    )
    assert step["base_samples"] == full_steps - 1 and step["new_samples"] == full_steps // 2 - 1
    assert any("warm-up step" in n for n in report["notes"])
    assert any(w.startswith(f"steps in the window {full_steps} -> {full_steps // 2}") for w in report["work_changes"])


def test_kernel_mix_change_with_equal_step_time_passes_as_work_changed(work, cache_dir):
    top = hottest_kernel(PINNED)
    mixed = edits.renamed_kernel(PINNED, work / "pinned__gemm_renamed.json.gz", top, top.replace("sm80", "sm90"))
    assert expected_change(PINNED, mixed) == 0.0
    code, report, _ = compare_json(PINNED, mixed, cache_dir=cache_dir)
    assert code == 0 and report["verdict"] == "pass"
    assert report["work_changed"] and any(
        w.startswith("kernel mix: 1 kernel only in new") for w in report["work_changes"]
    )
    assert row(report, "step_time_ns")["verdict"] == "unchanged"
    assert row(report, "step_kernel_time_ns")["verdict"] == "unchanged"
    assert row(report, "kernel_mean_ns", top)["verdict"] == "removed"


def test_shape_change_with_equal_step_time_passes_as_work_changed(work, cache_dir):
    doc = edits.load(PINNED)
    before = {
        json.dumps(e["args"]["Input Dims"], separators=(",", ":"))
        for e in doc["traceEvents"]
        if e.get("cat") == "cpu_op" and e.get("name") == "aten::mm"
    }
    assert before == {"[[4096,4096],[4096,4096]]"}
    shaped = edits.reshaped(PINNED, work / "pinned__mm_batch_8192.json.gz", "aten::mm", [[8192, 4096], [4096, 4096]])
    code, report, _ = compare_json(PINNED, shaped, cache_dir=cache_dir)
    assert code == 0 and report["verdict"] == "pass"
    assert report["work_changes"] == [
        "input shapes changed for 1 op: aten::mm [[4096,4096],[4096,4096]] -> [[8192,4096],[4096,4096]]"
    ]


def test_gpu_model_change_is_not_comparable_unless_declared(work, cache_dir):
    h100 = edits.gpu_model(PINNED, work / "pinned__gpu_model_h100.json.gz", "NVIDIA H100 80GB HBM3")
    r = run_cli("compare", PINNED, h100, "--cache-dir", cache_dir)
    assert r.returncode == 2
    (line,) = r.stderr.strip().splitlines()
    assert line == (
        "inferscope: not comparable: GPU model NVIDIA H200 -> NVIDIA H100 80GB HBM3; pass --allow-hardware-change "
        "if the change is intended"
    )
    assert (
        "⛔ not comparable" in r.stdout
        and "| GPU model ⚠️ | NVIDIA H200 | NVIDIA H100 80GB HBM3 | changed |" in r.stdout
    )
    code, report, _ = compare_json(PINNED, h100, cache_dir=cache_dir)
    assert code == 2 and report["verdict"] == "not_comparable" and not report["comparable"]
    code, report, _ = compare_json(PINNED, h100, "--allow-hardware-change", cache_dir=cache_dir)
    assert code == 0 and report["verdict"] == "pass" and report["hardware_change_allowed"]
    r = run_cli("compare", PINNED, h100, "--allow-hardware-change", "--cache-dir", cache_dir)
    assert r.returncode == 0 and "Hardware changed, declared intended" in r.stdout


def test_2x_slower_step_over_8_steps_fails(work, cache_dir):
    # a warm-up step and 8 steady ones
    base = edits.first_steps(EAGER, work / "eager__first_9_decode_steps.json.gz", 9, DECODE)
    slow = edits.stretched(base, work / "eager__first_9_decode_steps__2x_slower.json.gz", 2.0)
    assert len(edits.steps(edits.read(base), DECODE)) == len(edits.steps(edits.read(slow), DECODE)) == 9
    assert expected_change(base, slow, DECODE) == pytest.approx(100.0)
    args = ("--step-pattern", "^decode_step$")
    code, report, _ = compare_json(base, slow, *args, cache_dir=cache_dir)
    assert code == 1 and row(report, "step_time_ns")["verdict"] == "regression"
    assert row(report, "step_time_ns")["base_samples"] == row(report, "step_time_ns")["new_samples"] == 8
    assert row(report, "step_time_ns")["delta_pct"] == pytest.approx(100.0, abs=0.01)
    assert row(report, "throughput_steps_per_s")["delta_pct"] == pytest.approx(-50.0, abs=0.01)
    code, report, _ = compare_json(slow, base, *args, cache_dir=cache_dir)
    assert code == 0 and report["verdict"] == "improvement"


def test_14x_change_over_5_steps_needs_no_more_data(work, cache_dir):
    slow = edits.stretched(PINNED, work / "pinned__14x_slower.json.gz", 14.0)
    assert len(edits.steps(edits.read(PINNED))) == 5
    code, report, _ = compare_json(PINNED, slow, cache_dir=cache_dir)
    assert code == 1 and row(report, "step_time_ns")["verdict"] == "regression"
    code, report, _ = compare_json(slow, PINNED, cache_dir=cache_dir)
    assert code == 0 and report["verdict"] == "improvement"
    assert not [m for m in report["metrics"] if m["gated"] and m["verdict"] == "inconclusive"]
    assert row(report, "step_time_ns")["verdict"] == "improvement"


@pytest.mark.parametrize(
    "base, new, code, verdict",
    [
        (PAGEABLE, PINNED, 0, "improvement"),  # the copies are 8x faster pinned: the step is ~2.3x faster
        (PINNED, PAGEABLE, 1, "regression"),
        (EAGER, GRAPH, 0, "improvement"),  # decode replayed from CUDA graphs
        (GRAPH, EAGER, 1, "regression"),
    ],
    ids=["pageable->pinned", "pinned->pageable", "eager->cudagraph", "cudagraph->eager"],
)
def test_real_pairs_both_directions(base, new, code, verdict, cache_dir):
    got, report, _ = compare_json(base, new, cache_dir=cache_dir)
    assert got == code and report["verdict"] == verdict, report["summary"]
    step = row(report, "step_time_ns")
    assert step["verdict"] == verdict
    assert report["summary"].startswith("step time ")
    if base in (PAGEABLE, PINNED):  # ProfilerStep#N steps: the change is the raw files' own
        assert step["delta_pct"] == pytest.approx(expected_change(base, new), abs=0.1)
    # nothing but primary rows gates
    assert all(m["role"] == "primary" for m in report["metrics"] if m["gated"])
    assert report["environment"][0] == {
        "key": "gpu_model",
        "label": "GPU model",
        "base": "NVIDIA H200",
        "new": "NVIDIA H200",
        "changed": False,
    }


def test_step_time_runs_to_the_end_of_the_gpu_work(cache_dir):
    """CUDA-graph decode: the host launches a step's graph and moves on, so the step's CPU range closes long before
    its GPU work does. The step time is the step's own, to the end of its GPU work: 85 % faster than eager, not
    the 95 % (and 22x the throughput) that the CPU ranges alone would claim."""
    graph = edits.load(GRAPH)
    ranges = steady([s["dur"] for s in edits.steps(graph, DECODE)])
    assert step_mean(GRAPH, DECODE) > 3 * statistics.fmean(ranges)  # the case: the host runs far ahead
    code, report, _ = compare_json(EAGER, GRAPH, "--step-pattern", "^decode_step$", cache_dir=cache_dir)
    assert code == 0 and report["verdict"] == "improvement"
    step = row(report, "step_time_ns")
    assert step["delta_pct"] == pytest.approx(expected_change(EAGER, GRAPH, DECODE), abs=0.1)
    assert -90 < step["delta_pct"] < -80
    assert step["new_value"] == pytest.approx(1e3 * step_mean(GRAPH, DECODE), rel=1e-5)  # the raw file's µs
    assert row(report, "throughput_steps_per_s")["new_value"] == pytest.approx(1e6 / step_mean(GRAPH, DECODE), rel=1e-5)


def test_pageable_to_pinned_is_explained_by_the_copies(cache_dir):
    code, report, _ = compare_json(PAGEABLE, PINNED, cache_dir=cache_dir)
    m = re.search(r"\(improved\): (.*) per step -([\d.]+) ms explains (\d+) %", report["summary"])
    assert m, report["summary"]
    assert "memcpy" in m.group(1) or "copy" in m.group(1)
    assert 80 <= int(m.group(3)) <= 120


def test_labels_read_as_a_person_writes_them(cache_dir):
    """Analysis rows are labelled without their unit word (the value shows it): "memcpy time per step -33.9 ms",
    not "memcpy time ns per step"; a percentage reads as a share, and a byte count keeps its noun."""
    code, report, _ = compare_json(PAGEABLE, PINNED, cache_dir=cache_dir)
    assert ": memcpy time per step -" in report["summary"], report["summary"]
    labels = {m["id"]: m["label"] for m in report["metrics"] if m["id"].startswith("metric:")}
    assert labels["metric:memcpy_time_ns/step"] == "memcpy time per step"
    assert labels["metric:gpu_busy_pct"] == "GPU busy share"
    assert labels["metric:h2d_bytes/step"] == "H2D bytes per step"
    assert not [label for label in labels.values() if re.search(r"\b(ns|pct)\b", label)]
    md = run_cli("compare", PAGEABLE, PINNED, "--cache-dir", cache_dir).stdout
    assert "memcpy time per step" in md and "ns per step" not in md and not re.search(r"\d pct\b", md)


def test_kineto_ab_pair_declared_hardware_change(cache_dir):
    """A100 -> V100: not comparable; declared, the V100's slower step is what the gate reports (and the reverse
    must not fail)."""
    a100_to_v100 = expected_change(KINETO_A100, KINETO_V100)
    assert a100_to_v100 > 50
    code, report, _ = compare_json(KINETO_A100, KINETO_V100, cache_dir=cache_dir)
    assert code == 2 and report["verdict"] == "not_comparable"
    code, report, _ = compare_json(KINETO_A100, KINETO_V100, "--allow-hardware-change", cache_dir=cache_dir)
    assert code in (0, 1) and report["verdict"] in ("regression", "inconclusive")
    assert row(report, "step_time_ns")["delta_pct"] == pytest.approx(a100_to_v100, abs=0.1)
    assert report["hardware_change"] == "GPU model NVIDIA A100-PG509-200 -> Tesla V100-SXM2-16GB"
    assert report["work_changed"]  # different kernels (Volta vs Ampere GEMMs), different launches per step
    code, report, _ = compare_json(KINETO_V100, KINETO_A100, "--allow-hardware-change", cache_dir=cache_dir)
    assert code == 0 and report["verdict"] in ("pass", "improvement", "inconclusive")
    assert not [m for m in report["metrics"] if m["gated"] and m["verdict"] == "regression"]


def test_outputs_carry_the_same_verdict(work, cache_dir, tmp_path):
    slowed, _ = edits.slowed_kernels(PINNED, work / "pinned__gemm_kernels_1.2x_b.json.gz", "sm80_xmma_gemm", 1.2)
    junit = tmp_path / "c.xml"
    md = run_cli("compare", PINNED, slowed, "--junit", junit, "--cache-dir", cache_dir)
    gh = run_cli(
        "compare", PINNED, slowed, "--format", "github", "--cache-dir", cache_dir, env={"GITHUB_STEP_SUMMARY": ""}
    )
    code, report, _ = compare_json(PINNED, slowed, cache_dir=cache_dir)
    assert md.returncode == gh.returncode == code == 1
    assert md.stdout.startswith(f"### inferscope compare: ❌ regression: {report['summary']}".replace("_", "\\_")[:60])
    notice = f"::notice title=inferscope compare%3A regression::❌ regression: {report['summary']}"
    assert notice.replace("%", "%25").replace("%253A", "%3A") in gh.stdout
    xml = junit.read_text()
    failures = len([m for m in report["metrics"] if m["gated"] and m["verdict"] == "regression"])
    assert 'name="verdict" value="regression"' in xml and f'failures="{failures}"' in xml and failures == 2


def test_outputs_carry_the_same_improvement(cache_dir, tmp_path):
    """The real pageable -> pinned pair (2.3x faster steps): every output says improved, none fails the job, and the
    Markdown fits a GitHub PR comment (65,536 characters)."""
    junit = tmp_path / "c.xml"
    md = run_cli("compare", PAGEABLE, PINNED, "--junit", junit, "--cache-dir", cache_dir)
    gh = run_cli(
        "compare", PAGEABLE, PINNED, "--format", "github", "--cache-dir", cache_dir, env={"GITHUB_STEP_SUMMARY": ""}
    )
    code, report, _ = compare_json(PAGEABLE, PINNED, cache_dir=cache_dir)
    assert md.returncode == gh.returncode == code == 0 and report["verdict"] == "improvement"
    assert md.stdout.startswith("### inferscope compare: ✅ improved: step time -56.1 % \\[")
    assert len(md.stdout) < 65536
    notice = f"::notice title=inferscope compare%3A improvement::✅ improved: {report['summary']}"
    assert notice.replace("%", "%25").replace("%253A", "%3A") in gh.stdout
    assert "::error" not in gh.stdout
    xml = junit.read_text()
    assert 'name="verdict" value="improvement"' in xml and 'failures="0"' in xml


def test_saved_result_schema_policy(work, cache_dir, tmp_path):
    from inferscope.comparison import saved
    from inferscope.errors import CompareError

    out = tmp_path / "result.json"
    r = run_cli("compare", PINNED, PINNED, "-o", out, "--cache-dir", cache_dir)
    assert r.returncode == 0
    doc = saved.load(out)
    assert doc["schema_version"] == "2" and doc["verdict"] == "pass"
    # a result saved by the previous release (schema 1) still reads, its gated rows as the primary ones
    old = json.loads(out.read_text())
    old["schema_version"] = "1"
    for key in ("environment", "summary", "work_changes"):
        old.pop(key)
    (tmp_path / "v1.json").write_text(json.dumps(old))
    upgraded = saved.load(tmp_path / "v1.json")
    assert upgraded["upgraded_from"] == "1" and upgraded["environment"] == []
    # a newer one fails with one line saying how to regenerate it
    old["schema_version"] = "9"
    (tmp_path / "v9.json").write_text(json.dumps(old))
    with pytest.raises(CompareError, match=r"schema version 9 is not one this release reads \(1, 2\); regenerate"):
        saved.load(tmp_path / "v9.json")
    # given where a trace belongs: one line, exit 2
    r = run_cli("compare", out, PINNED, "--cache-dir", cache_dir)
    assert r.returncode == 2 and r.stderr.strip().splitlines() == [
        f"inferscope: error: base: {out} is a saved compare result, not a trace; a result holds verdicts, not the "
        "samples they came from: compare the traces themselves, or save a baseline of them once (inferscope compare "
        "BASE NEW --save-base FILE) and give that FILE"
    ]
