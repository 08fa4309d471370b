"""Kernel and range name normalisation, on the real names in the shared nsys and Kineto traces."""

from __future__ import annotations

import gzip
import re
import json
import sqlite3

import pytest

from inferscope.comparison.names import display_name, kernel_key, range_key
from tests.conftest import KINETO_TRACES, NSYS_TRACES, needs_shared

pytestmark = needs_shared


def nsys_kernel_names(file: str) -> list[str]:
    with sqlite3.connect(NSYS_TRACES / file) as con:
        return [
            r[0]
            for r in con.execute("""SELECT DISTINCT s.value FROM CUPTI_ACTIVITY_KIND_KERNEL k
                                             JOIN StringIds s ON s.id = k.demangledName""")
        ]


def nsys_range_names(file: str) -> list[str]:
    with sqlite3.connect(NSYS_TRACES / file) as con:
        return [r[0] for r in con.execute("SELECT DISTINCT text FROM NVTX_EVENTS WHERE text IS NOT NULL")]


def kineto_kernel_names(file: str) -> set[str]:
    with gzip.open(KINETO_TRACES / file) as f:
        events = json.load(f)["traceEvents"]
    return {e["name"] for e in events if e.get("cat") == "kernel"}


def test_default_key_keeps_every_distinct_kernel_apart():
    names = nsys_kernel_names("h100_2gpu_fastvideo.sqlite")
    assert len({kernel_key(n) for n in names}) == len(names) == 41


def test_strip_folds_instantiations_and_removes_return_types_and_parameters():
    names = nsys_kernel_names("h100_2gpu_fastvideo.sqlite")
    stripped = {kernel_key(n, strip=True) for n in names}
    assert len(stripped) == 15
    assert "at::native::vectorized_elementwise_kernel" in stripped
    assert "(anonymous)::softmax_warp_forward" in stripped  # `void <unnamed>::softmax_warp_forward<...>(...)`
    assert not any(k.startswith("void") or "<" in k or "(T" in k for k in stripped)
    # names without templates (cuBLAS) are left as they are
    cublas = [n for n in names if n.startswith("sm80_xmma")]
    assert cublas and all(kernel_key(n, strip=True) == n for n in cublas)


def test_nsys_and_kineto_spellings_meet_when_stripped():
    """nsys writes `<(int)4, ...>` and `std::array<char *, ...>`, Kineto `<4, ...>` and `Array<char*, 3> >`."""
    nsys = {kernel_key(n, strip=True) for n in nsys_kernel_names("h100_2gpu_fastvideo.sqlite")}
    kineto = {kernel_key(n, strip=True) for n in kineto_kernel_names("ab_control_a100.json.gz")}
    assert {
        "at::native::vectorized_elementwise_kernel",
        "at::native::reduce_kernel",
        "at::native::elementwise_kernel",
        "at::native::unrolled_elementwise_kernel",
    } <= nsys & kineto
    raw_nsys = set(nsys_kernel_names("h100_2gpu_fastvideo.sqlite"))
    assert not raw_nsys & kineto_kernel_names("ab_control_a100.json.gz")


def test_canonical_spacing_matches_demangler_variants():
    assert kernel_key("void f<4, at::detail::Array<char*, 3> >(int, char *)") == kernel_key(
        "void f<4, at::detail::Array<char *, 3>>(int, char*)"
    )
    assert kernel_key("void at::native::(anonymous namespace)::k<float>(T1)") == kernel_key(
        "void at::native::<unnamed>::k<float>(T1)"
    )


@pytest.mark.parametrize(
    "name, key",
    [
        ("triton_poi_fused_add_cos_sin_0", "triton_poi_fused_add_cos_sin"),  # Triton ordinal (the real name in
        ("fmha_kernel_3f2a9b1c0d_sm80", "fmha_kernel_sm80"),  # triton_example) and a hex hash
        ("std::enable_if<!T7, void>::type internal::gemvx::kernel<int, float>(T13)", "internal::gemvx::kernel"),
        ("ncclKernel_AllReduce_RING_LL_Sum_float(ncclWorkElem)", "ncclKernel_AllReduce_RING_LL_Sum_float"),
        ("ampere_sgemm_128x128_tn", "ampere_sgemm_128x128_tn"),
    ],
)
def test_strip_cases(name, key):
    assert kernel_key(name, strip=True) == key


def test_strip_handles_every_shared_kineto_kernel():
    names = set()
    for f in (
        "ab_control_a100.json.gz",
        "ab_test_v100.json.gz",
        "v100_rank1_train.json.gz",
        "nccl_args.json.gz",
        "triton_example.json.gz",
        "amd_mi250_rocm.json.gz",
    ):
        names |= kineto_kernel_names(f)
    for n in names:
        k = kernel_key(n, strip=True)
        assert k and "<" not in k and not k.startswith("void "), (n, k)


def test_pytorch_nvtx_ids_never_split_ranges():
    names = nsys_range_names("h100_2gpu_fastvideo.sqlite")
    keys = {range_key(n) for n in names}
    assert len(names) > 16000 and len(keys) < 200
    assert "aten::mul" in keys and not any("op_id" in k for k in keys)
    assert range_key("aten::addmm, seq = 12, op_id = 4, sizes = [[2, 3], [3]]") == "aten::addmm, sizes = [[2, 3], [3]]"
    assert range_key("aten::addmm, seq = 12, op_id = 4, sizes = [[2, 3], [3]]", strip=True) == "aten::addmm"
    assert range_key("FSDP::pre_forward(encoder.block.0.layer.0)") == "FSDP::pre_forward(encoder.block.0.layer.0)"


def test_display_name_drops_return_type_and_parameters_only():
    key = kernel_key("void at::native::reduce_kernel<(int)512, (int)1>(T3)")
    assert display_name(key) == "at::native::reduce_kernel<(int)512, (int)1>"
    assert display_name("ncclKernel_AllReduce(ncclWorkElem)") == "ncclKernel_AllReduce(ncclWorkElem)"


VLLM_B200 = "vllm_gptoss_b200_tp8_rank0_eager.json.gz"
_HEX_ADDRESS = re.compile(r"0x[0-9a-fA-F]+")


def test_per_run_ids_in_range_names_are_one_key():
    """Python-function events name bound methods by the object's address, different in every run; request UUIDs
    likewise. Names that differ only there share a key, and no key keeps an address; other names keep theirs."""
    with gzip.open(KINETO_TRACES / VLLM_B200) as f:
        names = {e["name"] for e in json.load(f)["traceEvents"] if e.get("ph") == "X" and e.get("cat") != "kernel"}
    addressed = {n for n in names if _HEX_ADDRESS.search(n)}
    assert len(addressed) > 50
    keys = {range_key(n) for n in addressed}
    assert not [k for k in keys if _HEX_ADDRESS.search(k)]
    assert len(keys) == len({_HEX_ADDRESS.sub("", n) for n in addressed})  # one key per name less its address
    assert {range_key(n) for n in names - addressed} == {range_key(n) for n in names - addressed if n}
    assert range_key("<built-in method get of dict object at 0x7fe02cbe57c0>") == range_key(
        "<built-in method get of dict object at 0x7fe02cbe6000>"
    )
    assert range_key("request 3f2504e0-4f89-11d3-9a0c-0305e82c3301 prefill") == "request [uuid] prefill"
    assert range_key("layer 0x") == "layer 0x" and range_key("block-12-3") == "block-12-3"


def test_compare_of_runs_that_differ_only_in_addresses_adds_and_removes_nothing(tmp_path, cache_dir):
    """The vLLM B200 trace against a copy whose every address moved (as in a second run): no range is called
    added or removed (182 rows were), and each address-free key has as many ranges on both sides as the raw file
    has events of that name less its address."""
    from tests import kineto_edits
    from tests.conftest import compare_json

    doc = kineto_edits.load(KINETO_TRACES / VLLM_B200)
    stems: dict[str, int] = {}  # raw name less its address -> events
    keyed: dict[str, str] = {}  # the compare key of each such stem (one key per stem: checked below)
    moved = 0
    for e in doc["traceEvents"]:
        name = str(e.get("name", ""))
        if e.get("ph") == "X" and e.get("cat") not in ("kernel", "gpu_user_annotation") and _HEX_ADDRESS.search(name):
            stem = _HEX_ADDRESS.sub("", name)
            stems[stem] = stems.get(stem, 0) + 1
            keyed[stem] = range_key(name)
            e["name"] = _HEX_ADDRESS.sub(lambda m: hex(int(m.group(), 16) + 0x1000), name)
            moved += 1
    assert moved > 1000
    assert len(set(keyed.values())) == len(stems)
    expected = {keyed[stem]: n for stem, n in stems.items()}
    copy = kineto_edits.save(doc, tmp_path / "vllm__addresses_moved.json.gz")
    code, report, err = compare_json(KINETO_TRACES / VLLM_B200, copy, cache_dir=cache_dir)
    assert code == 0, err[-2000:]
    assert not [m for m in report["metrics"] if m["verdict"] in ("added", "removed")]
    rows = {m["key"]: m for m in report["metrics"] if m["id"] == "range_mean_ns" and "0x?" in m["key"]}
    assert rows
    for key, row in rows.items():
        assert row["base_samples"] == row["new_samples"] == expected[key], key
