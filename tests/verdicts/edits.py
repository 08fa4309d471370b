"""Edited copies of real traces for verdict cases no shared trace has (issue 19, "edited copies of real traces").

Each builder takes the shared traces folder and an output folder, writes one edited copy and returns its path.
Everything it does not name stays the real trace, so the truth of the copy is the truth of the original plus
the edit: the expectation file says which conclusion the edit must not change, or which one it must.
"""

from __future__ import annotations

import gzip
import json
import shutil
import sqlite3
from pathlib import Path


def _copy_sqlite(src: Path, out_dir: Path, name: str) -> tuple[Path, sqlite3.Connection]:
    dst = out_dir / f"{name}.sqlite"
    shutil.copy(src, dst)
    dst.chmod(0o644)
    return dst, sqlite3.connect(dst)


def h100_no_pids(traces: Path, out_dir: Path) -> Path:
    """The 99 %-busy two-H100 export with the process id removed from every GPU operation row (globalPid NULL),
    as exports from some collection modes have them: busy time does not depend on which process ran the work."""
    out, con = _copy_sqlite(traces / "nsys" / "h100_2gpu_fastvideo.sqlite", out_dir, "h100_no_pids")
    with con:
        for table in ("CUPTI_ACTIVITY_KIND_KERNEL", "CUPTI_ACTIVITY_KIND_MEMCPY", "CUPTI_ACTIVITY_KIND_MEMSET"):
            con.execute(f"UPDATE {table} SET globalPid = NULL")
    con.close()
    return out


def cloverleaf_no_device_table(traces: Path, out_dir: Path) -> Path:
    """The CloverLeaf A100 export without TARGET_INFO_GPU (older or trimmed exports lack it): the GPU's compute
    capability is then not stated anywhere in the file and must be reported unknown, not guessed from kernel
    names."""
    out, con = _copy_sqlite(traces / "nsys" / "a100x4_cloverleaf_nsys2024.5.sqlite", out_dir, "cloverleaf_no_gpu_info")
    with con:
        con.execute("DROP TABLE TARGET_INFO_GPU")
    con.close()
    return out


# A bf16 tensor-core GEMM name, as cuBLAS names them on sm_90 (the kernel the FP32 GEMM would be with autocast).
BF16_GEMM = "sm90_xmma_gemm_bf16bf16_bf16f32_f32_tn_n_tilesize128x128x64_warpgroupsize1x1x1_execute_segment_k_off_kernel__5x_cublas"


def pinned_bf16_healthy(traces: Path, out_dir: Path) -> Path:
    """The pinned-copy H200 trace (GPU busy 99 %) with its FP32 GEMM kernels renamed to a bf16 tensor-core GEMM:
    the one true finding of the original (FP32 without Tensor Cores) is gone by construction, so the trace is a
    healthy GPU-bound run: nothing above [low] may fire."""
    with gzip.open(traces / "h200" / "h200_h2d_pinned.json.gz", "rt", encoding="utf-8") as fh:
        doc = json.load(fh)
    for e in doc["traceEvents"]:
        if e.get("cat") == "kernel" and "gemm_f32f32" in str(e.get("name", "")):
            e["name"] = BF16_GEMM
    out = out_dir / "h200_pinned_bf16.json.gz"
    with gzip.open(out, "wt", encoding="utf-8") as fh:
        json.dump(doc, fh)
    return out


def serving_stalls_after_last_prefill(traces: Path, out_dir: Path) -> Path:
    """The H200 serving loop's request file with every token gap that began after the loop's last prefill step
    stretched 20-fold (request_latency grown by the same time): a stall in the stream (a slow detokenizer or
    network, say) where no prefill can be the cause. The slowest token gaps are then these, not the gaps the
    prefills held back, while the trace, and the head-of-line blocking it shows, stay as they were.
    Returns the edited request file; the trace is the shared one."""
    from tests.verdicts.reader import kineto_prefill_steps

    zero, prefills = kineto_prefill_steps(traces / "h200" / "h200_serving_continuous_batching.json.gz")
    last = max(e for _, e in prefills)
    lines = []
    for line in (traces / "h200" / "h200_serving_requests.jsonl").read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        m = r["metrics"]
        t = r["metadata"]["timestamp_ns"] - zero + round(m["ttft"]["value"] * 1e6)
        gaps, added = [], 0.0
        for gap in m["inter_chunk_latency"]["value"]:
            begins = t
            t += round(gap * 1e6)
            if begins > last:
                added += 19 * gap
                gap *= 20
            gaps.append(round(gap, 6))
        m["inter_chunk_latency"]["value"] = gaps
        m["request_latency"]["value"] = round(m["request_latency"]["value"] + added, 6)
        lines.append(json.dumps(r))
    out = out_dir / "h200_serving_requests_stalls_after_last_prefill.jsonl"
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


def gpu_metrics_stalled_gemms(traces: Path, out_dir: Path) -> Path:
    """The H200 GPU-metrics export with SM Issue, Tensor Active and DRAM read/write at a tenth of what was
    recorded during the GEMM phases (tests/gpu_metric_edits.py): the GEMMs stay resident while no unit works."""
    from tests import gpu_metric_edits

    return gpu_metric_edits.stalled_gemms(out_dir)


def gpu_metrics_simt_gemms(traces: Path, out_dir: Path) -> Path:
    """The H200 GPU-metrics export with Tensor Active at 0 and SM Issue at 80 % during the GEMM phases
    (tests/gpu_metric_edits.py): the GEMMs keep the SMs issuing with their Tensor Cores idle."""
    from tests import gpu_metric_edits

    return gpu_metric_edits.simt_gemms(out_dir)


BUILDERS = {
    f.__name__: f
    for f in (
        h100_no_pids,
        cloverleaf_no_device_table,
        pinned_bf16_healthy,
        gpu_metrics_stalled_gemms,
        gpu_metrics_simt_gemms,
    )
}
# Edited request files (an expectation's `requests_edit`), joined to the case's trace.
REQUEST_BUILDERS = {f.__name__: f for f in (serving_stalls_after_last_prefill,)}
