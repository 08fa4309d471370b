"""A fleet of nsys exports (issue 23). No real one-export-per-rank nsys set is shared, so the ranks here are
derived, and named so: copies of a real Slurm/Cray-MPI export (a100x4_cloverleaf, one rank of a job) with the
rank variables of the recorded environment rewritten (PMI_RANK, PMI_SIZE, SLURM_PROCID, SLURM_NTASKS) and each
copy's session start moved by a known amount. What it shows: nsys ranks are identified from the environment and
say so, their clocks are anchored by the session start, and a set of nsys ranks runs through the fleet (that
export has no NCCL collectives, so no straggler is named). With collectives: the same export with its reduction
kernels renamed to an NCCL all-reduce (tests/synth.py `nccl`, named synth_nccl_*), made into two ranks whose session
starts are LATE_NS apart, so that rank 1 arrives LATE_NS late at every collective. And bundles: each derived rank
wrapped as an `inferscope record` bundle (tests/synth.py `python_bundle`), a directory of them given with --fleet.
And `.nsys-rep` reports, which the workers export with the nsys CLI: two copies of the one shared report (CPU only,
no rank variables), ranks told apart by their file names."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from tests.conftest import NSYS_TRACES, run_cli

SOURCE = NSYS_TRACES / "a100x4_cloverleaf_nsys2024.5.sqlite"
pytestmark = pytest.mark.skipif(not SOURCE.exists(), reason=f"{SOURCE} not found")
SHIFT_NS = 1_000_000
LATE_NS = 10_000_000  # longer than the renamed reduction kernels (1.3-1.9 ms), so the clock check can see it


def _derive(folder: Path, rank: int, size: int, source: Path = SOURCE, shift_ns: int = SHIFT_NS) -> Path:
    out = folder / f"derived_{source.stem}_rank{rank}.sqlite"
    shutil.copyfile(source, out)
    con = sqlite3.connect(out)
    with con:
        for name, value in (("PMI_RANK", rank), ("PMI_SIZE", size), ("SLURM_PROCID", rank), ("SLURM_NTASKS", size)):
            con.execute(
                "UPDATE META_DATA_CAPTURE SET value = ? WHERE name = 'PROCESS_0:ENVIRONMENT_VARIABLE' "
                "AND value LIKE ? || '=%'",
                (f'{name}="{value}"', name),
            )
        con.execute("UPDATE TARGET_INFO_SESSION_START_TIME SET utcEpochNs = utcEpochNs + ?", (rank * shift_ns,))
    con.close()
    return out


@pytest.mark.heavy
def test_nsys_ranks_from_the_environment(tmp_path):
    files = [_derive(tmp_path, r, 2) for r in (1, 0)]
    original = sqlite3.connect(SOURCE).execute("SELECT utcEpochNs FROM TARGET_INFO_SESSION_START_TIME").fetchone()[0]
    proc = run_cli("analyze", *files, "--workers", "2", "--cache-dir", tmp_path / "cache", "-f", "json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert [(t["rank"], t["source"], t["world_size"]) for t in result["traces"]] == [
        (0, "env:PMI_RANK", 2),
        (1, "env:PMI_RANK", 2),
    ]
    assert [t["anchor_ns"] - original for t in result["traces"]] == [0, SHIFT_NS]
    assert [r["rank"] for r in result["ranks"]] == [0, 1]
    assert all(r["gpu_busy_ns"] > 0 and r["comm_ns"] == 0 for r in result["ranks"])
    assert result["straggler"] is None and result["verdict"].startswith("no straggler")


@pytest.mark.heavy
def test_nsys_ranks_of_different_sizes_are_refused(tmp_path):
    files = [_derive(tmp_path, 0, 2), _derive(tmp_path, 1, 4)]
    proc = run_cli("analyze", *files, "--workers", "1", "--cache-dir", tmp_path / "cache")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == (
        "inferscope: error: these traces are from different jobs (world sizes 2, 4); give the ranks of one job"
    )


@pytest.mark.heavy
def test_nsys_ranks_with_collectives_name_the_late_rank(tmp_path):
    from tests import synth

    nccl = synth.nccl(tmp_path, overlapped=False)
    con = sqlite3.connect(nccl)
    collectives = con.execute(
        "SELECT count(*) FROM CUPTI_ACTIVITY_KIND_KERNEL k JOIN StringIds s ON s.id = k.shortName "
        "WHERE lower(s.value) LIKE '%nccl%'"
    ).fetchone()[0]
    con.close()
    assert collectives > 1
    files = [_derive(tmp_path, r, 2, nccl, LATE_NS) for r in (0, 1)]
    proc = run_cli("analyze", *files, "--workers", "2", "--cache-dir", tmp_path / "cache", "-f", "json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert [t["source"] for t in result["traces"]] == ["env:PMI_RANK", "env:PMI_RANK"]
    assert len(result["collectives"]) == collectives
    assert all(c["last_rank"] == 1 and c["skew_ns"] == LATE_NS for c in result["collectives"])
    assert result["straggler"]["rank"] == 1 and result["straggler"]["caused_wait_ns"] == collectives * LATE_NS
    # the parts of a collective end LATE_NS apart, more than a part lasts: the anchors disagree with the collectives
    # (two ranks cannot say whose clock is wrong, so both are named)
    (warning,) = [w for w in result["warnings"] if "contradict the clock anchors" in w]
    assert "rank 0 by -5.00 ms" in warning and "rank 1 by 5.00 ms" in warning


@pytest.mark.heavy
def test_a_directory_of_bundle_ranks(tmp_path):
    from tests import synth

    ranks = tmp_path / "ranks"
    for r in (1, 0):
        export = _derive(tmp_path, r, 2)
        synth.python_bundle(export, ranks / f"derived_bundle_rank{r}", [(1000, 1, 1, [("main", "app.py", 1)])], {})
    original = sqlite3.connect(SOURCE).execute("SELECT utcEpochNs FROM TARGET_INFO_SESSION_START_TIME").fetchone()[0]
    proc = run_cli("analyze", ranks, "--fleet", "--workers", "2", "--cache-dir", tmp_path / "cache", "-f", "json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert [(t["rank"], t["format"], t["source"]) for t in result["traces"]] == [
        (0, "bundle", "env:PMI_RANK"),
        (1, "bundle", "env:PMI_RANK"),
    ]
    assert [t["anchor_ns"] - original for t in result["traces"]] == [0, SHIFT_NS]
    for r in (0, 1):
        assert f"inferscope: rank {r} (derived_bundle_rank{r}, from env:PMI_RANK): ready" in proc.stderr


REPORT = NSYS_TRACES / "cpu_only_osrt_sampling_nsys2022.4.nsys-rep"


@pytest.mark.heavy
@pytest.mark.skipif(not REPORT.exists(), reason=f"{REPORT} not found")
@pytest.mark.skipif(shutil.which("nsys") is None, reason="exporting a .nsys-rep needs the nsys CLI on PATH")
def test_nsys_report_ranks_named_by_file(tmp_path):
    files = []
    for r in (0, 1):
        files.append(tmp_path / f"derived_cpu_only_rank{r}.nsys-rep")
        shutil.copyfile(REPORT, files[-1])
    proc = run_cli("analyze", *files, "--workers", "2", "--cache-dir", tmp_path / "cache")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    for r in (0, 1):
        assert f"inferscope: rank {r} (derived_cpu_only_rank{r}.nsys-rep, from file name): ready" in proc.stderr
    # no GPU work: no step window, no collective, and the clocks said to be unchecked rather than agreeing
    assert "no straggler" in proc.stdout and "no collective was matched on every rank to check them" in proc.stdout
    js = run_cli("analyze", *files, "--workers", "1", "--cache-dir", tmp_path / "cache", "-f", "json")
    result = json.loads(js.stdout)
    assert [(t["rank"], t["format"], t["source"]) for t in result["traces"]] == [
        (0, "nsys-rep", "file name"),
        (1, "nsys-rep", "file name"),
    ]
    assert [r["rank"] for r in result["ranks"]] == [0, 1] and all(r["gpu_busy_ns"] == 0 for r in result["ranks"])
