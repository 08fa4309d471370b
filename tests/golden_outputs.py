"""Golden outputs: `analyze -f json` of every shared trace and `compare -f json` of shared pairs, as this version
writes them. They pin behaviour across restructures (issue 18): a change that alters an output on purpose
regenerates them in the same commit, with the reason in its message:

    python -m tests.golden_outputs     # rewrite tests/golden/*.json from the current code
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent / "golden"
REPO = HERE.parent.parent

# analyze inputs, relative to the shared traces folder (the JSON carries the path as given)
ANALYZE = [
    *(
        f"nsys/{n}"
        for n in (
            "a100_saxpy_mpi_nsys2022.2.sqlite",
            "a100x4_cloverleaf_nsys2024.5.sqlite",
            "h100_2gpu_fastvideo.sqlite",
            "h200_nvfuser_matmul_nsys2024.6.sqlite",
            "nsys_ai_mock.sqlite",
            "t4_cupy_power_iteration_nsys2025.3.sqlite",
        )
    ),
    *(
        f"kineto/{n}"
        for n in (
            "ab_control_a100.json.gz",
            "ab_test_v100.json.gz",
            "alexnet_cuda_sync.json.gz",
            "amd_mi250_rocm.json.gz",
            "cpu_only.json.gz",
            "cuda_event_sync.json.gz",
            "edge_no_distributed_info.json.gz",
            "edge_no_rank.json.gz",
            "hf_qwen05b_h100_forward_memory.json.gz",
            "nccl_args.json.gz",
            "ns_resolution.json.gz",
            "triton_example.json.gz",
            "v100_rank1_train.json.gz",
            "vllm_gptoss_b200_tp8_rank0_eager.json.gz",
        )
    ),
    *(
        f"h200/{n}"
        for n in (
            "h200_gpu_metrics_nsys2025.3.sqlite.gz",
            "h200_h2d_pageable.json.gz",
            "h200_h2d_pinned.json.gz",
            "h200_llm_decode_cudagraph.json.gz",
            "h200_llm_decode_eager.json.gz",
            "h200_nsys_llm_serving_nsys2025.3.sqlite.gz",
            "h200_serving_continuous_batching.json.gz",
        )
    ),
    "fleet/dlrm_v100x8_ddp/worker0_step_12.1694128201545.pt.trace.json.gz",
]

# compare pairs (base, new): the same workload changed, and the same trace against itself
COMPARE = [
    ("h200/h200_h2d_pageable.json.gz", "h200/h200_h2d_pinned.json.gz"),
    ("h200/h200_llm_decode_eager.json.gz", "h200/h200_llm_decode_cudagraph.json.gz"),
    ("kineto/ab_control_a100.json.gz", "kineto/ab_test_v100.json.gz", "--allow-different-gpus"),
    ("nsys/h100_2gpu_fastvideo.sqlite", "nsys/h100_2gpu_fastvideo.sqlite"),
    (
        "fleet/dlrm_v100x8_ddp/worker0_step_12.1694128201545.pt.trace.json.gz",
        "fleet/dlrm_v100x8_ddp/worker1_step_12.1694128201556.pt.trace.json.gz",
    ),
]


def golden_name(*inputs: str) -> str:
    return "__vs__".join(Path(i).name.split(".")[0] for i in inputs) + ".json"


def run(traces: Path, args: list[str]) -> tuple[int, str]:
    """(exit code, stdout) of the CLI run in this process from the shared traces folder."""
    from inferscope.cli._common import run_app

    out, err = io.StringIO(), io.StringIO()
    here = os.getcwd()
    os.chdir(traces)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = run_app(args)
    finally:
        os.chdir(here)
    if code not in (0, 1):
        raise RuntimeError(f"inferscope {' '.join(args)} exited {code}: {err.getvalue()[-2000:]}")
    return code, out.getvalue()


def outputs(traces: Path):
    """(golden file name, exit code, JSON text) for every case."""
    for path in ANALYZE:
        code, text = run(traces, ["analyze", path, "-f", "json"])
        yield golden_name(path), code, text
    for base, new, *flags in COMPARE:
        code, text = run(traces, ["compare", base, new, "-f", "json", *flags])
        yield "compare__" + golden_name(base, new), code, text


def main() -> None:
    sys.path.insert(0, str(REPO))
    from tests.conftest import TRACES

    for name, _code, text in outputs(TRACES):
        (HERE / name).write_text(text, encoding="utf-8")
        print("wrote", HERE / name)


if __name__ == "__main__":
    main()
