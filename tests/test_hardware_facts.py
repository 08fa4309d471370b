"""Hardware facts (issue 19, class 6): compute capability, SM count, GPU name and memory come from the device
tables (nsys TARGET_INFO_GPU, Kineto deviceProperties) or say "unknown", never from a kernel name's sm_80 tag;
active GPUs are told from listed ones; denominators are stated; no bandwidth is claimed from tiny copies.

Every expectation is computed from the raw file (sqlite3 over the export, json over the Kineto trace). Edited
copies drop the device table of a real trace, the case where the old code guessed."""

from __future__ import annotations

import gzip
import json
import re
import sqlite3

import pytest

from inferscope.render import facts as facts_mod
from tests import kineto_edits
from tests.conftest import KINETO_TRACES, NSYS_TRACES, TRACES, run_cli
from tests.synth import copy_export

H100 = NSYS_TRACES / "h100_2gpu_fastvideo.sqlite"
T4 = NSYS_TRACES / "t4_cupy_power_iteration_nsys2025.3.sqlite"
CLOVERLEAF = NSYS_TRACES / "a100x4_cloverleaf_nsys2024.5.sqlite"
PINNED = TRACES / "h200" / "h200_h2d_pinned.json.gz"
PAGEABLE = TRACES / "h200" / "h200_h2d_pageable.json.gz"
VLLM = KINETO_TRACES / "vllm_gptoss_b200_tp8_rank0_eager.json.gz"
QWEN = KINETO_TRACES / "hf_qwen05b_h100_forward_memory.json.gz"
FLEET = TRACES / "fleet" / "dlrm_v100x8_ddp"

pytestmark = pytest.mark.skipif(not H100.exists(), reason="shared traces not found")

KINETO = [p for p in sorted(KINETO_TRACES.glob("*.json.gz")) + sorted((TRACES / "h200").glob("*.json.gz"))]
NSYS = [T4, CLOVERLEAF, H100, NSYS_TRACES / "h200_nvfuser_matmul_nsys2024.6.sqlite"]


def _facts(t) -> dict:
    return {f.label: f for f in facts_mod.from_trace(t)}


def _kineto_truth(doc: dict) -> tuple[dict, set]:
    listed = {d["id"]: d for d in doc.get("deviceProperties") or []}
    active = {
        e["args"]["device"]
        for e in doc["traceEvents"]
        if e.get("ph") == "X" and e.get("cat") in ("kernel", "gpu_memcpy", "gpu_memset") and "device" in e["args"]
    }
    return listed, active


def _nsys_truth(path) -> tuple[dict, set]:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    tables = {n for (n,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    listed = {}
    if "TARGET_INFO_GPU" in tables:
        for gid, major, minor, sms, name in con.execute(
            "SELECT id, computeMajor, computeMinor, smCount, name FROM TARGET_INFO_GPU"
        ):
            listed[gid] = {"computeMajor": major, "computeMinor": minor, "numSms": sms, "name": name}
    active = set()
    for table in ("CUPTI_ACTIVITY_KIND_KERNEL", "CUPTI_ACTIVITY_KIND_MEMCPY", "CUPTI_ACTIVITY_KIND_MEMSET"):
        if table in tables:
            active |= {d for (d,) in con.execute(f"SELECT DISTINCT deviceId FROM {table}")}
    return listed, active


def _check(facts: dict, listed: dict, active: set) -> None:
    described = [listed[i] for i in sorted(active) if i in listed] or list(listed.values())
    if listed and active and len(active) != len(listed):
        assert facts["GPUs"].value == f"{len(active)} active of {len(listed)} listed"
    elif listed:
        assert facts["GPUs"].value == str(len(listed))
    elif active:
        assert facts["GPUs"].value == str(len(active))
    caps = sorted({(d["computeMajor"], d["computeMinor"]) for d in described if d.get("computeMajor") is not None})
    if caps:
        assert facts["Compute capability"].value == " / ".join(f"{a}.{b}" for a, b in caps)
    else:
        assert facts["Compute capability"].value is None
        assert facts["Compute capability"].note.startswith("unknown")
    sms = sorted({d["numSms"] for d in described if d.get("numSms")})
    if sms:
        assert facts["SMs"].value.split(" per GPU")[0] == " / ".join(f"{s:,}" for s in sms)
    names = {d["name"] for d in described if d.get("name")}
    if names:
        assert all(n in facts["GPU"].value for n in names)


@pytest.mark.parametrize("path", KINETO, ids=lambda p: p.name)
def test_kineto_facts_from_device_properties(path, open_trace):
    listed, active = _kineto_truth(kineto_edits.load(path))
    _check(_facts(open_trace(path)), listed, active)


@pytest.mark.parametrize("path", NSYS, ids=lambda p: p.name)
def test_nsys_facts_from_target_info_gpu(path, open_trace):
    if not path.exists():
        pytest.skip("trace not found")
    listed, active = _nsys_truth(path)
    _check(_facts(open_trace(path)), listed, active)


def test_one_active_gpu_of_eight_is_not_eight_gpus(open_trace):
    """The vLLM rank-0 trace lists the node's 8 B200s; its kernels ran on one."""
    listed, active = _kineto_truth(kineto_edits.load(VLLM))
    assert len(listed) == 8 and len(active) == 1
    f = _facts(open_trace(VLLM))
    assert f["GPUs"].value == "1 active of 8 listed"
    assert f["GPU"].value == listed[next(iter(active))]["name"]  # one name, not "8× NVIDIA B200"


def test_no_compute_capability_from_kernel_names(open_trace):
    """The H100 export has no TARGET_INFO_GPU and runs sm80_ cuBLAS kernels: the header says unknown and the FP32
    GEMM finding gives 8.0 only as a lower bound, never as the GPU's compute capability."""
    con = sqlite3.connect(f"file:{H100}?mode=ro", uri=True)
    assert not con.execute("SELECT count(*) FROM sqlite_master WHERE name = 'TARGET_INFO_GPU'").fetchone()[0]
    assert con.execute("SELECT count(*) FROM StringIds WHERE value LIKE 'sm80_xmma_gemm_f32f32%'").fetchone()[0]
    t = open_trace(H100)
    assert _facts(t)["Compute capability"].value is None
    found = [f for f in t.analyze().findings if f.rule_id == "tensor_core_unused"]
    assert found
    for f in found:
        assert "compute capability 8.0" not in f.summary
        assert "not recorded" in f.summary and "at least 8.0" in f.summary


@pytest.mark.skipif(not PINNED.exists(), reason="shared traces not found")
def test_kineto_copy_without_device_properties(tmp_path, open_trace):
    """The H200 FP32 GEMM trace (sm80_ kernels on a 9.0 GPU): with its deviceProperties the finding says 9.0;
    with them removed it says unknown / at least 8.0, and the header says unknown."""
    doc = kineto_edits.load(PINNED)
    props = doc["deviceProperties"]
    cc = {f"{d['computeMajor']}.{d['computeMinor']}" for d in props}
    assert cc == {"9.0"}
    real = [f for f in open_trace(PINNED).analyze().findings if f.rule_id == "tensor_core_unused"]
    assert real and "compute capability 9.0" in real[0].summary
    del doc["deviceProperties"]
    edited = open_trace(kineto_edits.save(doc, tmp_path / "h200_pinned_no_props.json.gz"))
    f = _facts(edited)
    assert f["Compute capability"].value is None and f["SM count"].value is None
    found = [x for x in edited.analyze().findings if x.rule_id == "tensor_core_unused"]
    assert found and "at least 8.0" in found[0].summary and "compute capability 8.0" not in found[0].summary


def test_nsys_copy_without_target_info_gpu(tmp_path, open_trace):
    """T4 (7.5, 40 SMs) with TARGET_INFO_GPU dropped: every device fact says why it is missing."""
    listed, _ = _nsys_truth(T4)
    assert {(d["computeMajor"], d["computeMinor"]) for d in listed.values()} == {(7, 5)}
    path, con = copy_export(T4, tmp_path, "t4_no_gpu_table")
    with con:
        con.execute("DROP TABLE TARGET_INFO_GPU")
    con.close()
    f = _facts(open_trace(path))
    assert f["Compute capability"].value is None and "unknown" in f["Compute capability"].note
    assert f["SM count"].value is None
    assert (
        "Compute capability" in _facts(open_trace(T4)) and _facts(open_trace(T4))["Compute capability"].value == "7.5"
    )


@pytest.mark.skipif(not QWEN.exists(), reason="shared traces not found")
def test_low_sm_fill_states_its_denominator(open_trace):
    """ "N of the M kernel executions": M is every non-communication kernel of at least 10 µs on the device, N
    those with fewer blocks than the device's SMs, both counted from the raw events."""
    doc = kineto_edits.load(QWEN)
    sms = {d["id"]: d["numSms"] for d in doc["deviceProperties"]}
    eligible = [
        e
        for e in doc["traceEvents"]
        if e.get("cat") == "kernel"
        and e.get("ph") == "X"
        and round(e["dur"] * 1000) >= 10000
        and not re.search("(?i)nccl|multimem", e["name"])
    ]
    small = [e for e in eligible if e["args"]["grid"][0] * e["args"]["grid"][1] * e["args"]["grid"][2] < sms[0]]
    found = [f for f in open_trace(QWEN).analyze().findings if f.rule_id == "low_sm_fill"]
    assert found
    assert f"{len(small):,} of the {len(eligible):,} kernel executions" in found[0].summary


def test_no_bandwidth_from_tiny_copies(open_trace):
    """vLLM's host-to-device copies are 33 kB of small pinned copies: no bandwidth is stated (must-not); the
    pageable H200 trace's 256 MB copies give bytes / time of the copies of 1 MiB+ (must-fire)."""
    doc = kineto_edits.load(VLLM)
    h2d = [e for e in doc["traceEvents"] if e.get("cat") == "gpu_memcpy" and "HtoD" in e["name"]]
    assert h2d and max(e["args"]["bytes"] for e in h2d) < 2**20
    assert open_trace(VLLM).analyze().value("h2d_rate") is None
    if not PAGEABLE.exists():
        return
    big = [
        e
        for e in kineto_edits.load(PAGEABLE)["traceEvents"]
        if e.get("cat") == "gpu_memcpy" and "HtoD" in e["name"] and e["args"]["bytes"] >= 2**20
    ]
    expected = sum(e["args"]["bytes"] for e in big) / (sum(e["dur"] for e in big) * 1e-6)
    assert open_trace(PAGEABLE).analyze().value("h2d_rate") == pytest.approx(expected, rel=0.01)


def test_terminal_says_metrics_cover_all_gpus(cache_dir):
    """Two active GPUs: the key metrics say they are both GPUs together (findings name theirs); one GPU: not."""
    r = run_cli("analyze", H100, "--cache-dir", cache_dir)
    assert r.returncode == 0, r.stderr
    assert "Key metrics (all 2 active GPUs together)" in r.stdout
    r = run_cli("analyze", T4, "--cache-dir", cache_dir)
    assert r.returncode == 0, r.stderr
    assert "Key metrics" in r.stdout and "active GPUs together" not in r.stdout


@pytest.mark.skipif(not FLEET.exists(), reason="shared traces not found")
def test_device_imbalance_not_from_waiting_in_collectives(open_trace):
    """The DLRM ranks do nearly equal work (non-NCCL busy time within 20 %) while their NCCL time differs 5x
    (early ranks wait for late ones): the busy-time imbalance must not be claimed from that waiting."""

    def union(iv):
        total, end = 0.0, float("-inf")
        for a, b in sorted(iv):
            if b > end:
                total += b - max(a, end)
                end = b
        return total

    work, busy = [], []
    for path in sorted(FLEET.glob("*.json.gz")):
        with gzip.open(path, "rt") as fh:
            ev = [
                e
                for e in json.load(fh)["traceEvents"]
                if e.get("ph") == "X" and e.get("cat") in ("kernel", "gpu_memcpy", "gpu_memset")
            ]
        work.append(union([(e["ts"], e["ts"] + e["dur"]) for e in ev if "nccl" not in e["name"].lower()]))
        busy.append(union([(e["ts"], e["ts"] + e["dur"]) for e in ev]))
    assert min(work) >= 0.8 * max(work) and min(busy) < 0.8 * max(busy)
    # the rule may still fire on the ranks' step times (its other test); its busy range must be the work range
    for f in open_trace(FLEET).analyze().findings:
        if f.rule_id == "device_imbalance":
            m = re.search(r"communication ranges from ([0-9.]+) ms to ([0-9.]+) ms", f.summary)
            assert m, f.summary
            assert float(m.group(1)) == pytest.approx(min(work) / 1000, rel=0.01)
            assert float(m.group(2)) == pytest.approx(max(work) / 1000, rel=0.01)
            assert "median step time per process" in f.summary
