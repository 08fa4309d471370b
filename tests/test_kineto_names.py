"""Kineto kernel names (issue 19, class 7): the full demangled name is kept, and the short name is readable (no
"n/a", "at::native::", "std::enable_if") and keeps template instances of different data types apart, so the
top-kernel tables neither merge a bf16 and an fp32 kernel nor lose the type.

Expected names are written out by hand from the C++ names in the shared traces, and the checks over whole
traces read the raw JSON with `json`; nothing is taken from InferScope's output."""

from __future__ import annotations

import collections
import re

import pytest

from inferscope.ingest.kernel_names import short_name
from tests import kineto_edits
from tests.conftest import KINETO_TRACES, TRACES, run_cli

VLLM = KINETO_TRACES / "vllm_gptoss_b200_tp8_rank0_eager.json.gz"
QWEN = KINETO_TRACES / "hf_qwen05b_h100_forward_memory.json.gz"
KINETO = sorted(KINETO_TRACES.glob("*.json.gz")) + sorted((TRACES / "h200").glob("*.json.gz"))

needs_shared = pytest.mark.skipif(not VLLM.exists(), reason="shared traces not found")

# (full demangled name as recorded in a shared trace, the short name a reader should see)
CASES = [
    (
        "void (anonymous namespace)::multimem_all_reduce_kernel<c10::BFloat16, 16>(c10::BFloat16*, unsigned long, "
        "unsigned int**, unsigned long, unsigned long)",
        "multimem_all_reduce_kernel<bf16>",
    ),
    (
        "std::enable_if<(((8)>(0)))&&vllm::_typeConvert<c10::BFloat16>::exists, void>::type "
        "vllm::fused_add_rms_norm_kernel<c10::BFloat16, 8>(c10::BFloat16*, long, c10::BFloat16*, "
        "c10::BFloat16 const*, float, int, int)",
        "fused_add_rms_norm_kernel<bf16>",
    ),
    (
        "void at::native::(anonymous namespace)::CatArrayBatchedCopy<float, unsigned int, 2, 128, 1>(float*, "
        "at::native::(anonymous namespace)::CatArrInputTensorMetadata<float, unsigned int, 128, 1>, "
        "at::native::(anonymous namespace)::TensorSizeStride<unsigned int, 4u>, int, unsigned int)",
        "CatArrayBatchedCopy<fp32>",
    ),
    (
        "void cutlass::Kernel<cutlass_80_tensorop_s1688gemm_64x64_16x6_nn_align4>"
        "(cutlass_80_tensorop_s1688gemm_64x64_16x6_nn_align4::Params)",
        "cutlass_80_tensorop_s1688gemm_64x64_16x6_nn_align4",
    ),
    (
        "void vllm::scaled_fp8_quant_kernel_strided<c10::BFloat16, c10::Float8_e4m3fn>(c10::Float8_e4m3fn*, "
        "c10::BFloat16 const*, float const*, long, long, long)",
        "scaled_fp8_quant_kernel_strided<bf16,fp8e4m3>",
    ),
    (
        "void at::native::vectorized_gather_kernel<16, long>(char*, char*, long*, int, long, long, long, long, bool)",
        "vectorized_gather_kernel<i64>",
    ),
    ("ncclKernel_AllReduce_RING_LL_Sum_float(ncclWorkElem)", "ncclKernel_AllReduce_RING_LL_Sum_float"),
    ("nvjet_tst_64x64_64x16_2x1_2cta_v_bz_bias_TNT", "nvjet_tst_64x64_64x16_2x1_2cta_v_bz_bias_TNT"),
    ("triton_poi_fused_add_cos_sin_0", "triton_poi_fused_add_cos_sin_0"),
]


@pytest.mark.parametrize(("name", "expected"), CASES, ids=[c[1][:40] for c in CASES])
def test_short_name(name, expected):
    assert short_name(name) == expected


def test_short_name_of_nothing():
    assert short_name(None) is None and short_name("  ") is None


def _raw_kernel_names(path) -> collections.Counter:
    doc = kineto_edits.load(path)
    return collections.Counter(e["name"] for e in doc["traceEvents"] if e.get("cat") == "kernel" and e.get("ph") == "X")


@needs_shared
@pytest.mark.parametrize("path", KINETO, ids=lambda p: p.name)
def test_names_in_real_traces(path, open_trace):
    """Over every shared Kineto trace: kernels.name is the recorded name, unchanged (templates included), and no
    short name is empty, a bare namespace or a return type; each short name's function is in its full name."""
    raw = _raw_kernel_names(path)
    t = open_trace(path)
    rows = t.engine.con.execute("SELECT name, short_name, count(*) FROM kernels GROUP BY 1, 2").fetchall()
    assert collections.Counter({n: c for n, _, c in rows}) == raw
    for name, short, _ in rows:
        assert short and short != "n/a", name
        assert not short.endswith("::") and not short.startswith(("std::", "void ", "(")), (name, short)
        assert short.split("<")[0] in name, (name, short)


@needs_shared
def test_data_types_stay_apart_in_top_kernels(open_trace):
    """The Qwen forward pass runs at::native::elementwise_kernel on bf16 and on float tensors: the bf16-only and
    the float-only instances (told apart from the raw names) never share a row of the top-kernel table."""
    raw = _raw_kernel_names(QWEN)
    pattern = re.compile(r"^void at::native::elementwise_kernel<")
    bf16 = {n for n in raw if pattern.match(n) and "BFloat16" in n and not re.search(r"\bfloat\b", n)}
    fp32 = {n for n in raw if pattern.match(n) and "BFloat16" not in n and re.search(r"\bfloat\b", n)}
    assert bf16 and fp32
    t = open_trace(QWEN)
    short = dict(t.engine.con.execute("SELECT DISTINCT name, short_name FROM kernels").fetchall())
    assert {short[n] for n in bf16}.isdisjoint({short[n] for n in fp32})
    assert all("bf16" in short[n] for n in bf16) and all("fp32" in short[n] for n in fp32)


@needs_shared
def test_terminal_top_kernels_table(cache_dir):
    """The terminal summary has a top-kernels table; its first row is the kernel with the most summed time in
    the raw events (a name without templates, so its short name is itself), and no row reads n/a or
    std::enable_if (what the old name cut gave the multimem all-reduce and the fused RMS norm)."""
    doc = kineto_edits.load(VLLM)
    totals: dict[str, float] = collections.defaultdict(float)
    for e in doc["traceEvents"]:
        if e.get("cat") == "kernel" and e.get("ph") == "X":
            totals[e["name"]] += e["dur"]
    top = max(totals, key=totals.get)
    assert "<" not in top and "(" not in top
    r = run_cli("analyze", VLLM, "--cache-dir", cache_dir)
    assert r.returncode == 0, r.stderr
    table = r.stdout.split("Top kernels", 1)[1].split("\n\n", 1)[0]
    lines = table.splitlines()[2:]
    assert lines and lines[0].strip().startswith(top[:40])
    assert "n/a" not in table and "std::enable_if" not in table
    assert "[comm] multimem_all_reduce_kernel<bf16>" in table
