"""Communication by kernel family (issue 19, class 4): multimem, custom all-reduce, DeepEP and NVSHMEM kernels are
communication, not compute, and exposed communication on one rank is not called an overlap problem.

Expectations come from the raw Kineto JSON read with `json` (which events are kernels, their names, grids and
times), never from InferScope's views. Where no shared trace has a family, an edited copy of the vLLM B200 trace
renames its 73 multimem all-reduce kernels to that family's real kernel name and changes nothing else, so the
same kernels (8 blocks on a 148-SM GPU) are judged under each name."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests import kineto_edits
from tests.conftest import KINETO_TRACES

VLLM = KINETO_TRACES / "vllm_gptoss_b200_tp8_rank0_eager.json.gz"
NCCL_ARGS = KINETO_TRACES / "nccl_args.json.gz"
QWEN = KINETO_TRACES / "hf_qwen05b_h100_forward_memory.json.gz"

pytestmark = pytest.mark.skipif(not VLLM.exists(), reason="shared traces not found")

# real kernel names of the families no shared trace has (vLLM custom all-reduce, DeepEP, NVSHMEM) and one that is
# compute (the must-not case: the same kernels renamed to something that is not communication)
RENAMES = {
    "custom_allreduce": "void vllm::cross_device_reduce_1stage<c10::BFloat16, 8>(vllm::RankData*, vllm::RankSignals, "
    "vllm::Signal*, c10::BFloat16*, int, int)",
    "deepep": "void deep_ep::intranode::dispatch<8, 768, 8192>(int4*, float*, int*, long*, float*, int*, int*, "
    "int4 const*, float const*, long const*, float const*, bool const*, int const*, int, int, int, int, int, int, "
    "void**, int, int, int)",
    "nvshmem": "nvshmemi_transfer_rma_nbi_kernel",
    "compute": "void my_model::fused_bias_gelu_kernel<c10::BFloat16, 16>(c10::BFloat16*, unsigned long)",
}


def _kernels(doc: dict) -> list[dict]:
    return [e for e in doc["traceEvents"] if e.get("cat") == "kernel" and e.get("ph") == "X"]


def _union_ns(intervals: list[tuple[float, float]]) -> float:
    total, end = 0.0, float("-inf")
    for a, b in sorted(intervals):
        if b > end:
            total += b - max(a, end)
            end = b
    return total * 1000.0  # µs -> ns


def _renamed(tmp_path, family: str):
    doc = kineto_edits.load(VLLM)
    n = 0
    for e in _kernels(doc):
        if "multimem" in e["name"]:
            e["name"] = RENAMES[family]
            n += 1
    assert n == 73
    return kineto_edits.save(doc, tmp_path / f"vllm_{family}.json.gz"), doc


def _is_comm_count(t) -> int:
    return t.engine.con.execute("SELECT count(*) FROM gpu_ops WHERE is_comm").fetchall()[0][0]


def test_multimem_and_nccl_count_as_communication(open_trace):
    """The B200 trace's 73 multimem all-reduces and 1 NCCL AllGather are communication; their busy union matches
    the raw events' union."""
    doc = kineto_edits.load(VLLM)
    comm = [e for e in _kernels(doc) if re.search("(?i)nccl|multimem", e["name"])]
    assert len(comm) == 74
    t = open_trace(VLLM)
    a = t.analyze()
    assert _is_comm_count(t) == len(comm)
    families = dict(t.engine.con.execute("SELECT family, count(*) FROM comm_kernels GROUP BY 1").fetchall())
    assert families == {"multimem": 1, "nccl": 1}
    expected = _union_ns([(e["ts"], e["ts"] + e["dur"]) for e in comm])
    assert a.value("comm_busy_ns") == pytest.approx(expected, rel=0.01)
    # no compute advice for them: low_sm_fill skipped them (it named the multimem kernel before)
    for f in a.findings:
        if f.rule_id in ("low_sm_fill", "busy_not_working", "tensor_core_unused"):
            assert "multimem" not in f.summary and "ncclDevKernel" not in f.summary


@pytest.mark.parametrize("family", ["custom_allreduce", "deepep", "nvshmem"])
def test_other_families_count_as_communication(family, tmp_path, open_trace):
    path, doc = _renamed(tmp_path, family)
    t = open_trace(path)
    a = t.analyze()
    assert _is_comm_count(t) == 74
    got = dict(t.engine.con.execute("SELECT name, family FROM comm_kernels").fetchall())
    assert got[RENAMES[family]] == family
    assert not [f for f in a.findings if f.rule_id == "low_sm_fill" and "split-K" in f.recommendation]


def test_same_kernels_as_compute_get_compute_advice(tmp_path, open_trace):
    """Must-fire counterpart: the same 8-block kernels under a compute name are reported by low_sm_fill, with the
    idle estimate the raw grids give (duration x (1 - blocks / SMs))."""
    path, doc = _renamed(tmp_path, "compute")
    sms = {d["id"]: d["numSms"] for d in doc["deviceProperties"]}
    renamed = [e for e in _kernels(doc) if e["name"] == RENAMES["compute"]]
    blocks = {e["args"]["grid"][0] * e["args"]["grid"][1] * e["args"]["grid"][2] for e in renamed}
    assert blocks == {8}
    idle_ns = sum(e["dur"] * 1000 * (1 - 8 / sms[e["args"]["device"]]) for e in renamed if e["dur"] >= 10)
    t = open_trace(path)
    a = t.analyze()
    assert _is_comm_count(t) == 1
    fill = [f for f in a.findings if f.rule_id == "low_sm_fill"]
    assert fill and "fused_bias_gelu_kernel<bf16>" in fill[0].summary
    assert fill[0].impact_ns >= idle_ns * 0.99


def test_configured_families_replace_and_add(open_trace):
    """[communication] patterns: an empty list drops a family, a new name adds one."""
    from inferscope.analyze import run

    doc = kineto_edits.load(VLLM)
    norm = [e for e in _kernels(doc) if "fused_add_rms_norm_kernel" in e["name"]]
    t = open_trace(VLLM)
    run(t, comm_patterns={"multimem": []})
    assert _is_comm_count(t) == 1
    run(t, comm_patterns={"norms_as_comm": ["fused_add_rms_norm_kernel"]})
    assert _is_comm_count(t) == 74 + len(norm)
    run(t)
    assert _is_comm_count(t) == 74


def test_bad_configured_pattern_is_named(open_trace):
    from inferscope.analyze import run
    from inferscope.errors import QueryError

    with pytest.raises(QueryError, match="communication family 'x'"):
        run(open_trace(VLLM), comm_patterns={"x": ["(unclosed"]})


def test_config_schema_accepts_communication_table():
    from inferscope.config.schema import check
    from inferscope.errors import ConfigError

    assert check("communication.custom_allreduce", ["(?i)cross_device_reduce"], {}, "test") == [
        "(?i)cross_device_reduce"
    ]
    with pytest.raises(ConfigError, match="communication.x"):
        check("communication.x", ["(unclosed"], {}, "test")


@pytest.mark.skipif(not NCCL_ARGS.exists(), reason="shared traces not found")
def test_exposed_communication_does_not_advise_overlap_first(open_trace):
    """nccl_args: NCCL all-reduces run alone for most of their time. The finding says one rank cannot tell skew
    from transfer and sends the reader to the all-ranks analysis before any overlap advice; the exposed time is
    the raw comm union minus its overlap with the other kernels' union."""
    doc = kineto_edits.load(NCCL_ARGS)
    by_dev: dict[int, tuple[list, list]] = {}
    for e in _kernels(doc):
        comm, other = by_dev.setdefault(e["args"]["device"], ([], []))
        (comm if "nccl" in e["name"].lower() else other).append((e["ts"], e["ts"] + e["dur"]))
    exposed = 0.0
    for comm, other in by_dev.values():
        if comm:
            both = _union_ns(comm) + _union_ns(other) - _union_ns(comm + other)
            exposed += _union_ns(comm) - both
    a = open_trace(NCCL_ARGS).analyze()
    assert a.value("comm_exposed_ns") == pytest.approx(exposed, rel=0.01)
    found = [f for f in a.findings if f.rule_id == "nccl_exposed"]
    assert found
    assert "cannot tell" in found[0].summary and "skew" in found[0].summary
    assert found[0].recommendation.startswith("First tell skew from transfer")
    assert "docs/fleet.md" in found[0].recommendation


@pytest.mark.skipif(not QWEN.exists(), reason="shared traces not found")
def test_no_communication_no_finding(open_trace):
    """Must-not-fire: a single-GPU forward pass has no communication kernel by any family's pattern."""
    doc = kineto_edits.load(QWEN)
    assert not [e for e in _kernels(doc) if re.search("(?i)nccl|multimem|all_?reduce|deep_?ep|nvshmem", e["name"])]
    t = open_trace(QWEN)
    a = t.analyze()
    assert _is_comm_count(t) == 0
    assert not [f for f in a.findings if f.rule_id == "nccl_exposed"]


def test_cli_applies_the_configured_families(tmp_path, cache_dir):
    """`analyze` reads [communication] from the project's inferscope.toml: dropping the multimem family takes its
    73 kernels (raw count here) out of the communication busy time the JSON reports."""
    from tests.conftest import run_cli

    doc = kineto_edits.load(VLLM)
    multimem = [e for e in _kernels(doc) if "multimem" in e["name"]]
    assert len(multimem) == 73

    def comm_busy(cwd: Path) -> float:
        r = run_cli("analyze", VLLM, "-f", "json", "--cache-dir", cache_dir, cwd=cwd)
        assert r.returncode == 0, r.stderr[-2000:]
        (m,) = [m for m in json.loads(r.stdout)["metrics"] if m["id"] == "comm_busy_ns" and m.get("device_id") is None]
        return float(m["value"])

    plain = tmp_path / "plain"
    plain.mkdir()
    configured = tmp_path / "configured"
    configured.mkdir()
    (configured / "inferscope.toml").write_text("[communication]\nmultimem = []\n")
    assert comm_busy(configured) < comm_busy(plain)


def test_compare_applies_the_configured_families(tmp_path):
    """`compare` reads [communication] as `analyze` does: with the multimem family dropped, the communication busy
    time per step is the raw union of the NCCL kernel alone (before, compare kept the built-in families: the
    report and the gate disagreed on the same trace), and compare reads the derived tables `analyze` stored under
    that configuration instead of computing a second set."""
    from tests.conftest import compare_json, run_cli

    doc = kineto_edits.load(VLLM)
    nccl = [e for e in _kernels(doc) if re.search("(?i)nccl", e["name"])]
    multimem = [e for e in _kernels(doc) if "multimem" in e["name"]]
    assert len(nccl) == 1 and len(multimem) == 73
    configured = tmp_path / "configured"
    configured.mkdir()
    (configured / "inferscope.toml").write_text("[communication]\nmultimem = []\n")
    cache = tmp_path / "cache"

    r = run_cli("analyze", VLLM, "-f", "json", "--cache-dir", cache, cwd=configured)
    assert r.returncode == 0, r.stderr[-2000:]
    (analyzed,) = [
        m for m in json.loads(r.stdout)["metrics"] if m["id"] == "comm_busy_ns" and m.get("device_id") is None
    ]
    code, report, err = compare_json(VLLM, VLLM, cache_dir=cache, cwd=configured)
    assert code == 0, err[-2000:]
    (row,) = [m for m in report["metrics"] if m["id"] == "metric:comm_busy_ns/step"]
    steps = report["base"]["steps"][0]
    expected = _union_ns([(e["ts"], e["ts"] + e["dur"]) for e in nccl])
    assert row["base_value"] * steps == pytest.approx(expected, rel=0.01)
    assert row["base_value"] * steps == pytest.approx(float(analyzed["value"]))
    (entry,) = [p for p in cache.iterdir() if p.is_dir()]
    assert len(list((entry / "derived").iterdir())) == 1
