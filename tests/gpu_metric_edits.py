"""Copies of the real H200 GPU-metrics export (../shared/traces/h200/h200_gpu_metrics_nsys2025.3.sqlite.gz) edited
with sqlite3, for the metric rules that have no positive (or no negative) case in it. Only GPU_METRICS values (and,
where said, one kernel name) change; kernels, copies, NVTX phases, timestamps and the schema stay the real export.

The export alternates six NVTX phases: phase_0/2/4 run bf16 GEMMs (`nvjet_sm90_...`, Tensor Active ~94 %), phase_1/3/5
run pinned host-to-device copies (PCIe RX ~92 %). Each builder says what it changes."""

from __future__ import annotations

import gzip
import shutil
import sqlite3
from pathlib import Path

from tests.conftest import TRACES

H200_METRICS = TRACES / "h200" / "h200_gpu_metrics_nsys2025.3.sqlite.gz"
GEMM_SHORT_NAME = "nvjet_sm90_tst_320x128_64x3_1x2_h_bz_coopB_NNT"
# a name tensor_core_unused reads as an FP32 SIMT GEMM (gemm + ffma, no Tensor Core tag)
FP32_NAME = "sm90_xmma_gemm_f32f32_f32f32_f32_nn_n_tilesize128x128x8_ffma_kernel"


def plain_copy(directory: Path, name: str) -> tuple[Path, sqlite3.Connection]:
    """The export decompressed to `directory/name.sqlite`, opened for editing."""
    out = directory / f"{name}.sqlite"
    with gzip.open(H200_METRICS, "rb") as src, open(out, "wb") as dst:
        shutil.copyfileobj(src, dst)
    return out, sqlite3.connect(out)


def metric_ids(con: sqlite3.Connection, *names: str) -> list[int]:
    """metricIds of the metrics whose recorded names start with one of `names`."""
    rows = con.execute("SELECT metricId, metricName FROM TARGET_INFO_GPU_METRICS").fetchall()
    return [m for m, n in rows if any(n.startswith(x) for x in names)]


def phase_window(con: sqlite3.Connection, phase: str) -> tuple[int, int]:
    return con.execute('SELECT start, "end" FROM NVTX_EVENTS WHERE text = ?', (phase,)).fetchone()


def gemm_phases(con: sqlite3.Connection) -> list[tuple[int, int]]:
    return [phase_window(con, p) for p in ("phase_0", "phase_2", "phase_4")]


def _set(con, ids, expr: str, windows) -> None:
    marks = ",".join("?" * len(ids))
    for start, end in windows:
        con.execute(
            f"UPDATE GPU_METRICS SET value = {expr} WHERE metricId IN ({marks}) AND timestamp >= ? AND timestamp < ?",
            (*ids, start, end),
        )


def stalled_gemms(directory: Path) -> Path:
    """Edit: during the GEMM phases SM Issue, Tensor Active and DRAM read/write read a tenth of what was recorded
    (SMs Active unchanged): the GEMM kernels stay resident while no unit works, busy_not_working's case."""
    out, con = plain_copy(directory, "gm_edit_stalled_gemms")
    with con:
        ids = metric_ids(con, "SM Issue", "Tensor Active", "DRAM Read", "DRAM Write")
        _set(con, ids, "value / 10", gemm_phases(con))
    con.close()
    return out


def simt_gemms(directory: Path) -> Path:
    """Edit: during the GEMM phases Tensor Active reads 0 and SM Issue 80 %: the GEMMs do their math on the CUDA
    cores (as an FP32 SIMT GEMM would), keeping the SMs issuing: tensor_cores_idle's case, not busy_not_working's."""
    out, con = plain_copy(directory, "gm_edit_simt_gemms")
    with con:
        _set(con, metric_ids(con, "Tensor Active"), "0", gemm_phases(con))
        _set(con, metric_ids(con, "SM Issue"), "80", gemm_phases(con))
    con.close()
    return out


def dram_bound_phase(directory: Path) -> Path:
    """Edit: during phase_2 only, DRAM Read Bandwidth reads 85 % (DRAM write unchanged, ~2 %): one DRAM-bound phase."""
    out, con = plain_copy(directory, "gm_edit_dram_bound_phase2")
    with con:
        _set(con, metric_ids(con, "DRAM Read"), "85", [phase_window(con, "phase_2")])
    con.close()
    return out


def flat_clock(directory: Path) -> Path:
    """Edit: the GPC clock reads a steady 1980 MHz (stored in Hz, as recorded) all along: nothing to report for
    clock_drop."""
    out, con = plain_copy(directory, "gm_edit_flat_clock")
    with con:
        _set(con, metric_ids(con, "GPC Clock"), "1980000000", [(-(1 << 62), 1 << 62)])
    con.close()
    return out


def half_pcie(directory: Path) -> Path:
    """Edit: PCIe RX throughput reads half of what was recorded (~46 % during the copies): the link not saturated."""
    out, con = plain_copy(directory, "gm_edit_half_pcie")
    with con:
        _set(con, metric_ids(con, "PCIe RX"), "value / 2", [(-(1 << 62), 1 << 62)])
    con.close()
    return out


def fp32_named_gemms(directory: Path, tensor_idle: bool, keep_metrics: bool = True) -> Path:
    """Edit: the GEMM kernel's names read as an FP32 SIMT GEMM (FP32_NAME), so tensor_core_unused's name test picks
    them. tensor_idle: also Tensor Active 0 during the GEMM phases (the name would be right). keep_metrics=False:
    GPU_METRICS emptied, the name alone decides (as in a trace recorded without metrics)."""
    tag = ("idle" if tensor_idle else "busy") if keep_metrics else "nometrics"
    out, con = plain_copy(directory, f"gm_edit_fp32_named_{tag}")
    with con:
        con.execute(
            "UPDATE StringIds SET value = ? WHERE id IN (SELECT DISTINCT shortName FROM CUPTI_ACTIVITY_KIND_KERNEL "
            "UNION SELECT DISTINCT demangledName FROM CUPTI_ACTIVITY_KIND_KERNEL UNION SELECT DISTINCT mangledName "
            "FROM CUPTI_ACTIVITY_KIND_KERNEL) AND value LIKE 'nvjet_sm90%'",
            (FP32_NAME,),
        )
        if tensor_idle:
            _set(con, metric_ids(con, "Tensor Active"), "0", gemm_phases(con))
        if not keep_metrics:
            con.execute("DELETE FROM GPU_METRICS")
    con.close()
    return out


def longer_gemm_steps(directory: Path, extra_ns: int = 100_000_000, keep_metrics: bool = True) -> Path:
    """Edit: the NVTX ranges phase_0/2/4 end `extra_ns` later (GPU_METRICS, kernels and copies unchanged): taken as
    steps, each GEMM step runs into the idle pause after its GEMMs, so it is longer and its SMs and Tensor Cores were
    less active over it. compare's case for a step-time change explained by lower GPU activity. keep_metrics=False:
    GPU_METRICS emptied as well (a recording without metrics)."""
    out, con = plain_copy(directory, "gm_edit_longer_gemm_steps" + ("" if keep_metrics else "_nometrics"))
    with con:
        con.execute(
            "UPDATE NVTX_EVENTS SET \"end\" = \"end\" + ? WHERE text IN ('phase_0', 'phase_2', 'phase_4')", (extra_ns,)
        )
        if not keep_metrics:
            con.execute("DELETE FROM GPU_METRICS")
    con.close()
    return out
