"""Run the real `nsys stats` on an export and read its CSV output: the oracle for InferScope's stats reports."""

from __future__ import annotations

import csv
import re
import shutil
import sqlite3
import subprocess
from pathlib import Path

# InferScope report -> nsys 2022.4 report that computes the same thing.
NSYS_NAMES = {
    "cuda_api_sum": "cudaapisum",
    "cuda_gpu_kern_gb_sum": "gpukernsum",  # 2022.4 groups kernels by name + grid + block
    "cuda_gpu_mem_time_sum": "gpumemtimesum",
    "cuda_gpu_mem_size_sum": "gpumemsizesum",
    "nvtx_sum": "nvtxsum",
    "osrt_sum": "osrtsum",
    "cuda_kern_exec_sum": "kernexecsum",
}


def copy_without_backtrace_rows(src: Path, dst: Path) -> int:
    """Copy an export and delete --cudabacktrace duplicate rows (eventClass 67), InferScope's deliberate
    difference; returns how many were deleted."""
    shutil.copy(src, dst)
    con = sqlite3.connect(dst)
    try:
        has = con.execute("SELECT count(*) FROM sqlite_master WHERE name='CUPTI_ACTIVITY_KIND_RUNTIME'").fetchone()[0]
        if not has:
            return 0
        n = con.execute("DELETE FROM CUPTI_ACTIVITY_KIND_RUNTIME WHERE eventClass = 67").rowcount
        con.commit()
        return n
    finally:
        con.close()


def _num(value: str):
    if value in ("", "None"):
        return None
    try:
        return int(value)
    except ValueError:
        try:
            return float(value)
        except ValueError:
            return value


def run_stats(sqlite: Path, out_dir: Path, reports=tuple(NSYS_NAMES)) -> dict[str, list[dict] | None]:
    """{inferscope report name: rows} from `nsys stats`; None where nsys skipped the report for lack of data."""
    prefix = out_dir / "nsys"
    names = [NSYS_NAMES[r] for r in reports]
    subprocess.run(
        [
            "nsys",
            "stats",
            "--report",
            ",".join(names),
            "--format",
            "csv",
            "--force-overwrite",
            "true",
            "--output",
            str(prefix),
            str(sqlite),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    result = {}
    for ours, theirs in zip(reports, names):
        file = Path(f"{prefix}_{theirs}.csv")
        if not file.exists():
            result[ours] = None
            continue
        with file.open(newline="") as f:
            result[ours] = [{k: _num(v) for k, v in row.items()} for row in csv.DictReader(f)]
    return result


_FOLD = re.compile(r"(_v[0-9]+|_ptsz|_ptds)+$")


def fold_api_name(name: str) -> str:
    return _FOLD.sub("", name)
