"""`inferscope stats` against the oracle: the real `nsys stats` run in the same test on the same export.

Every number of every report is compared: counts, totals, min and max exactly; averages, medians, standard
deviations and percentages to the 0.1 that nsys rounds them to (memory sizes to the 0.001 MB nsys prints).
Deliberate differences, each checked here:
* --cudabacktrace duplicates (eventClass 67) are not counted: nsys runs on a copy with those rows deleted, and
  a separate test checks the original nsys totals equal ours plus the duplicates.
* API names fold _vNNNN/_ptsz/_ptds variants: where several nsys rows fold into one name, the folded row is
  checked for count, total, min, max and average, which are composable; median and stddev are not.
* cuda_gpu_kern_sum groups by name only (current nsys); nsys 2022.4's gpukernsum groups by name + grid + block,
  which is our cuda_gpu_kern_gb_sum; both are compared.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict

import pytest

import subprocess

from .conftest import NSYS_REPS, NSYS_SQLITE, needs_nsys, needs_shared
from .nsys_oracle import copy_without_backtrace_rows, fold_api_name, run_stats

pytestmark = [needs_shared, needs_nsys]

STAT_COLS = ("Avg (ns)", "Med (ns)", "StdDev (ns)")
EXACT_COLS = ("Total Time (ns)", "Min (ns)", "Max (ns)")


def _close(ours, theirs, decimals=1):
    if theirs is None or theirs == "":
        return ours is None
    return ours is not None and abs(float(ours) - float(theirs)) <= 0.5 * 10**-decimals + 1e-9 * abs(float(theirs))


@pytest.fixture(scope="module", params=NSYS_SQLITE + NSYS_REPS, ids=lambda p: p.name)
def pair(request, tmp_path_factory, open_trace):
    """(our trace, nsys's reports, source). A .nsys-rep is opened by InferScope directly (exported with the local
    nsys in its preferred format, Arrow for 2022.4) while the oracle runs on nsys's own SQLite export of it."""
    src = request.param
    work = tmp_path_factory.mktemp(src.stem)
    sqlite_src = src
    if src.suffix == ".nsys-rep":
        sqlite_src = work / "export.sqlite"
        subprocess.run(
            ["nsys", "export", "--type", "sqlite", "--output", str(sqlite_src), str(src)],
            capture_output=True,
            check=True,
            timeout=600,
        )
    oracle_db = work / "oracle.sqlite"
    copy_without_backtrace_rows(sqlite_src, oracle_db)
    return open_trace(src), run_stats(oracle_db, work), src


def _rows_by(rows, key):
    out = {}
    for r in rows:
        k = key(r)
        assert k not in out, f"duplicate key {k}"
        out[k] = r
    return out


def _compare_full(ours: dict, theirs: dict, count_col: str, label: str):
    assert set(ours) == set(theirs), (
        f"{label}: keys differ: only ours {set(ours) - set(theirs)}, only nsys {set(theirs) - set(ours)}"
    )
    for k, t in theirs.items():
        o = ours[k]
        assert o[count_col] == t[count_col], (label, k, count_col)
        for c in EXACT_COLS:
            assert o[c] == t[c], (label, k, c, o[c], t[c])
        for c in STAT_COLS:
            assert _close(o[c], t[c]), (label, k, c, o[c], t[c])
        assert _close(o["Time (%)"], t["Time (%)"]), (label, k, "Time (%)", o["Time (%)"], t["Time (%)"])


def test_cuda_api_sum(pair):
    trace, oracle, _ = pair
    ours = trace.stats("cuda_api_sum").rows()
    theirs = oracle["cuda_api_sum"]
    if theirs is None:
        assert ours == []
        return
    groups = defaultdict(list)
    for r in theirs:
        groups[fold_api_name(r["Name"])].append(r)
    by_name = _rows_by(ours, lambda r: r["Name"])
    assert set(by_name) == set(groups)
    for name, rows in groups.items():
        o = by_name[name]
        if len(rows) == 1:
            _compare_full({name: o}, {name: rows[0]}, "Num Calls", "cuda_api_sum")
            continue
        n = sum(r["Num Calls"] for r in rows)
        total = sum(r["Total Time (ns)"] for r in rows)
        assert o["Num Calls"] == n and o["Total Time (ns)"] == total
        assert o["Min (ns)"] == min(r["Min (ns)"] for r in rows)
        assert o["Max (ns)"] == max(r["Max (ns)"] for r in rows)
        assert o["Avg (ns)"] == pytest.approx(total / n)
        assert abs(o["Time (%)"] - sum(r["Time (%)"] for r in rows)) <= 0.05 * len(rows) + 1e-9


def _grid(value) -> tuple:
    return tuple(int(x) for x in str(value).split())


def test_cuda_gpu_kern_gb_sum(pair):
    trace, oracle, _ = pair
    ours = trace.stats("cuda_gpu_kern_gb_sum").rows()
    theirs = oracle["cuda_gpu_kern_gb_sum"]
    if theirs is None:
        assert ours == []
        return
    key = lambda r: (r["Name"], _grid(r["GridXYZ"]), _grid(r["BlockXYZ"]))  # noqa: E731
    _compare_full(_rows_by(ours, key), _rows_by(theirs, key), "Instances", "gpukernsum")


def test_cuda_gpu_kern_sum_by_name(pair):
    trace, oracle, _ = pair
    ours = _rows_by(trace.stats("cuda_gpu_kern_sum").rows(), lambda r: r["Name"])
    theirs = oracle["cuda_gpu_kern_gb_sum"] or []
    grouped = defaultdict(list)
    for r in theirs:
        grouped[r["Name"]].append(r)
    assert set(ours) == set(grouped)
    for name, rows in grouped.items():
        o = ours[name]
        assert o["Instances"] == sum(r["Instances"] for r in rows)
        assert o["Total Time (ns)"] == sum(r["Total Time (ns)"] for r in rows)
        assert o["Min (ns)"] == min(r["Min (ns)"] for r in rows)
        assert o["Max (ns)"] == max(r["Max (ns)"] for r in rows)
        if len(rows) == 1:
            for c in STAT_COLS:
                assert _close(o[c], rows[0][c]), (name, c)


def test_cuda_gpu_mem_time_sum(pair):
    trace, oracle, _ = pair
    ours = trace.stats("cuda_gpu_mem_time_sum").rows()
    theirs = oracle["cuda_gpu_mem_time_sum"]
    if theirs is None:
        assert ours == []
        return
    key = lambda r: r["Operation"]  # noqa: E731
    _compare_full(_rows_by(ours, key), _rows_by(theirs, key), "Count", "gpumemtimesum")


def test_cuda_gpu_mem_size_sum(pair):
    trace, oracle, _ = pair
    ours = trace.stats("cuda_gpu_mem_size_sum").rows()
    theirs = oracle["cuda_gpu_mem_size_sum"]
    if theirs is None:
        assert ours == []
        return
    o_by = _rows_by(ours, lambda r: r["Operation"])
    t_by = _rows_by(theirs, lambda r: r["Operation"])
    assert set(o_by) == set(t_by)
    for k, t in t_by.items():
        o = o_by[k]
        assert o["Count"] == t["Count"]
        for unit in ("Total", "Avg", "Med", "Min", "Max", "StdDev"):
            assert _close(o[f"{unit} (B)"] / 1e6, t[f"{unit} (MB)"], decimals=3), (k, unit)


def test_nvtx_sum(pair):
    trace, oracle, _ = pair
    ours = trace.stats("nvtx_sum").rows()
    theirs = oracle["nvtx_sum"]
    if theirs is None:
        assert ours == []
        return
    key = lambda r: (r["Range"], r["Style"])  # noqa: E731
    _compare_full(_rows_by(ours, key), _rows_by(theirs, key), "Instances", "nvtxsum")


def test_osrt_sum(pair):
    trace, oracle, _ = pair
    ours = trace.stats("osrt_sum").rows()
    theirs = oracle["osrt_sum"]
    if theirs is None:
        assert ours == []
        return
    key = lambda r: r["Name"]  # noqa: E731
    _compare_full(_rows_by(ours, key), _rows_by(theirs, key), "Num Calls", "osrtsum")


def test_cuda_kern_exec_sum(pair):
    trace, oracle, _ = pair
    ours = trace.stats("cuda_kern_exec_sum").rows()
    theirs = oracle["cuda_kern_exec_sum"]
    if theirs is None:
        assert ours == []
        return
    key = lambda r: (r["PID"], r["TID"], r["DevId"], fold_api_name(r["API Name"]), r["Kernel Name"])  # noqa: E731
    o_by, t_by = _rows_by(ours, key), _rows_by(theirs, key)
    assert set(o_by) == set(t_by)
    for k, t in t_by.items():
        o = o_by[k]
        assert (o["Count"], o["QCount"]) == (t["Count"], t["QCount"]), k
        for prefix in "TAQK":
            for c in ("Min", "Max"):
                assert o[f"{prefix}{c} (ns)"] == t[f"{prefix}{c} (ns)"], (k, prefix, c)
            for c in ("Avg", "Med", "StdDev"):
                assert _close(o[f"{prefix}{c} (ns)"], t[f"{prefix}{c} (ns)"]), (k, prefix, c)


def test_backtrace_duplicates_are_the_only_difference(tmp_path, open_trace):
    """On the export recorded with --cudabacktrace, nsys on the untouched file counts every API call twice;
    its totals equal ours plus exactly the eventClass-67 rows."""
    src = next((p for p in NSYS_SQLITE if "saxpy" in p.name), None)
    if src is None:
        pytest.skip("the --cudabacktrace export (a100_saxpy_mpi_nsys2022.2.sqlite) is not in the shared traces")
    copy = tmp_path / "orig.sqlite"
    copy.write_bytes(src.read_bytes())
    theirs = run_stats(copy, tmp_path, reports=("cuda_api_sum",))["cuda_api_sum"]
    ours = trace_rows = open_trace(src).stats("cuda_api_sum").rows()
    con = sqlite3.connect(src)
    dup_count, dup_total = con.execute(
        'SELECT count(*), sum("end" - start) FROM CUPTI_ACTIVITY_KIND_RUNTIME WHERE eventClass = 67'
    ).fetchone()
    con.close()
    assert dup_count > 0
    assert sum(r["Num Calls"] for r in theirs) == sum(r["Num Calls"] for r in trace_rows) + dup_count
    assert sum(r["Total Time (ns)"] for r in theirs) == sum(r["Total Time (ns)"] for r in ours) + dup_total
    # nsys lists cudaMemcpy twice (the _v3020 row folded by its 4-character strip, and the backtrace row)
    assert sum(1 for r in theirs if r["Name"] == "cudaMemcpy") == 2
    assert sum(1 for r in ours if r["Name"] == "cudaMemcpy") == 1
