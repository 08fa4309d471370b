"""Memory bounded by design (issue 21): the whole pipeline (conversion, derived tables, metrics, rules, the
`stats` reports) runs on a trace whose working set is larger than INFERSCOPE_MEMORY_LIMIT, spills, and gives the
answer it gives without the cap; below the lowest cap it can reach, the user gets one line and exit 2.

The trace is the bundled H100 sample tiled x30 by benchmarks/tile_nsys.py (103,260 kernels, 503,460 NVTX ranges,
59 MB), built here. The reference answer is the same command without a cap: the cap must change where DuckDB keeps
its work, never what it computes. Figures (lowest cap reached, what fails below it, peak RSS, times) are in
docs/performance.md#memory-limit-and-spilling; they are measured by hand there, not asserted here."""

from __future__ import annotations

import json
import math
import shutil

import duckdb
import pytest

import inferscope
from benchmarks.tile_nsys import tile
from inferscope import duckdb_conn
from tests.conftest import SAMPLES, run_cli

pytestmark = pytest.mark.heavy  # four cold analyses of a 100k-kernel trace: about a minute on two cores

SAMPLE = SAMPLES / "h100_2gpu_fastvideo.sqlite"
COPIES = 30
BELOW = "48MB"  # below the lowest cap the analysis reaches on this tile (80 MB on 2 threads; more threads need more)


def _cap() -> str:
    """A cap the tile's analysis exceeds (it spills) yet completes under. DuckDB keeps per-thread operator state
    that does not spill, so the lowest cap that completes grows with its thread count (measured on this tile: 80 MB
    with 2 threads, between 96 and 128 MB with 4, 128 MB with 8, between 128 and 192 MB with 16)."""
    threads = duckdb.connect().execute("SELECT current_setting('threads')").fetchall()[0][0]
    return f"{max(128, 12 * int(threads))}MB"


@pytest.fixture(scope="module")
def tiled(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiled")
    path = folder / "h100_x30_tiled.sqlite"
    base_kernels = 3442  # the sample's kernel rows
    info = tile(SAMPLE, path, kernels=COPIES * base_kernels)
    assert info["copies"] == COPIES and info["rows"]["CUPTI_ACTIVITY_KIND_KERNEL"] == COPIES * base_kernels
    yield path
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def uncapped(tiled, tmp_path_factory):
    """The reference: `analyze -f json` and `stats -f json` with DuckDB's default limit (80 % of memory)."""
    work = tmp_path_factory.mktemp("uncapped")
    cache = work / "cache"
    analysis = run_cli("analyze", tiled, "-f", "json", "--cache-dir", cache, cwd=work)
    stats = run_cli("stats", tiled, "-f", "json", "--cache-dir", cache, cwd=work)
    assert analysis.returncode == 0 and stats.returncode == 0, analysis.stderr + stats.stderr
    return json.loads(analysis.stdout), json.loads(stats.stdout)


def _same_report(a: dict, b: dict) -> list[str]:
    """Where two `stats -f json` outputs differ: every value exact but the standard deviations, to 9 significant
    digits. A spilled aggregate merges its partial (Welford) states in another order, which moves a standard
    deviation in its 12th digit (cuda_kern_exec_sum on this tile: 71108.66043862622 against 71108.66043874672);
    sums, counts, averages, medians, minima and maxima come out bit for bit."""
    if a.keys() != b.keys():
        return [f"reports {sorted(a)} != {sorted(b)}"]
    out = []
    for report in a:
        if len(a[report]) != len(b[report]):
            out.append(f"{report}: {len(a[report])} rows != {len(b[report])}")
            continue
        for i, (x, y) in enumerate(zip(a[report], b[report])):
            for column in x.keys() | y.keys():
                u, v = x.get(column), y.get(column)
                if "StdDev" in column and isinstance(u, float) and isinstance(v, float):
                    same = math.isclose(u, v, rel_tol=1e-9)
                else:
                    same = u == v
                if not same:
                    out.append(f"{report} row {i} {column}: {u!r} != {v!r}")
    return out


def test_the_capped_pipeline_gives_the_uncapped_answer(tiled, uncapped, tmp_path):
    cap = _cap()
    env = {duckdb_conn.MEMORY_ENV: cap}
    cache = tmp_path / "cache"
    analysis = run_cli("analyze", tiled, "-f", "json", "--cache-dir", cache, cwd=tmp_path, env=env)
    assert analysis.returncode == 0, analysis.stderr
    got, want = json.loads(analysis.stdout), uncapped[0]
    assert got["findings"] and got["metrics"]  # the tile has findings to compare
    assert got["findings"] == want["findings"] and got["metrics"] == want["metrics"]

    stats = run_cli("stats", tiled, "-f", "json", "--cache-dir", cache, cwd=tmp_path, env=env)
    assert stats.returncode == 0, stats.stderr
    reports = json.loads(stats.stdout)
    assert len(reports) == 7 and reports["cuda_kern_exec_sum"], reports.keys()
    assert _same_report(reports, uncapped[1]) == []
    assert not (tmp_path / ".tmp").exists()  # spills went under the cache, not into the working directory


def test_the_tile_outgrows_the_cap_and_spills(tiled, uncapped, tmp_path, monkeypatch):
    """Without this, an equal answer could mean the cap was never reached: the same cold analysis in-process, whose
    connection can still be asked, before it closes, which temporary files DuckDB wrote."""
    monkeypatch.setenv(duckdb_conn.MEMORY_ENV, _cap())
    trace = inferscope.open(tiled, cache_dir=tmp_path / "cache")
    analysis = trace.analyze()
    spilled = trace.engine.raw.execute("SELECT count(*), coalesce(sum(size), 0) FROM duckdb_temporary_files()")
    files, size = spilled.fetchall()[0]
    assert files > 0 and size > 0, "the capped analysis did not spill: tile more copies"
    want = [(m["id"], m["device_id"], m["key"], m["value"]) for m in uncapped[0]["metrics"]]
    got = [(m.id, m.device_id, m.key, m.value) for m in analysis.metrics]
    assert got == want


def test_below_the_reachable_cap_the_user_gets_one_line_and_exit_2(tiled, tmp_path):
    proc = run_cli(
        "analyze",
        tiled,
        "-f",
        "json",
        "--cache-dir",
        tmp_path / "cache",
        cwd=tmp_path,
        env={duckdb_conn.MEMORY_ENV: BELOW},
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "DuckDB ran out of memory" in lines[0], proc.stderr
    assert f"raise {duckdb_conn.MEMORY_ENV} (now {BELOW})" in lines[0] and "Traceback" not in proc.stderr
    assert proc.stdout == ""  # no half-written JSON
