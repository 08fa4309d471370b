"""Fleets built from edited copies of the shared 8-rank DDP job (issue 23), each named as derived: what the fleet
must notice when the ranks are not what they seem.

- Two rank files with the same bytes, told apart only by their file names (the cache keeps one entry for them):
  each rank keeps its own number in the per-rank tables.
- A rank whose clock runs 2 ms ahead (every timestamp of rank 3 moved by 2 ms): the clock check, which compares
  matching collectives' ends after each rank's anchor, finds the offset and the result warns.

Expectations are computed here from the raw JSON; the runs use a real Dask LocalCluster through the CLI.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from statistics import median

import pytest

from tests.conftest import TRACES, run_cli

FLEET = TRACES / "fleet" / "dlrm_v100x8_ddp"
RANK_FILES = sorted(FLEET.glob("*.json.gz")) if FLEET.is_dir() else []
pytestmark = [
    pytest.mark.skipif(len(RANK_FILES) < 2, reason=f"shared fleet traces not found at {FLEET}"),
    pytest.mark.heavy,
]
AHEAD_US = 2000
SKEWED_RANK = 3


def _raw(path: Path) -> dict:
    return json.loads(gzip.decompress(path.read_bytes()))


def _nccl_ends(doc: dict) -> list[float]:
    nccl = sorted(
        (e for e in doc["traceEvents"] if e.get("cat") == "kernel" and "nccl" in e["name"].lower()),
        key=lambda e: e["ts"],
    )
    return [e["ts"] + e["dur"] for e in nccl]


def test_ranks_with_the_same_bytes_keep_their_own_numbers(tmp_path):
    """A copy of rank 0 without its distributedInfo, saved twice as derived_nodist_rank0/1: same bytes, one cache
    entry, ranks from the file names."""
    doc = _raw(RANK_FILES[0])
    del doc["distributedInfo"]
    data = gzip.compress(json.dumps(doc).encode(), mtime=0)
    files = [tmp_path / f"derived_nodist_rank{r}.json.gz" for r in (0, 1)]
    for f in files:
        f.write_bytes(data)
    proc = run_cli("analyze", *files, "--workers", "1", "--cache-dir", tmp_path / "cache", "-f", "json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert [(t["rank"], t["source"]) for t in result["traces"]] == [(0, "file name"), (1, "file name")]
    assert [r["rank"] for r in result["ranks"]] == [0, 1]
    assert result["ranks"][0]["step_ns"] == result["ranks"][1]["step_ns"]
    assert [c["rank"] for c in result["clock"]] == [0, 1]
    assert all(a["wait_ns"] == 0 for a in result["arrivals"]) and result["straggler"] is None


def test_a_rank_clock_ahead_shows_in_the_clock_check_and_is_warned(tmp_path):
    docs = {}
    for f in RANK_FILES:
        doc = _raw(f)
        docs[doc["distributedInfo"]["rank"]] = (f, doc)
    folder = tmp_path / "ranks"
    folder.mkdir()
    ends = {}
    for rank, (f, doc) in docs.items():
        if rank == SKEWED_RANK:
            for e in doc["traceEvents"]:
                if isinstance(e.get("ts"), (int, float)):
                    e["ts"] += AHEAD_US
            doc["traceName"] = f"derived: {f.name} with every timestamp {AHEAD_US} us later (a clock ahead)"
            (folder / f"derived_clock_ahead_rank{rank}.json.gz").write_bytes(gzip.compress(json.dumps(doc).encode()))
        else:
            (folder / f.name).symlink_to(f)
        ends[rank] = _nccl_ends(doc)
    # the expected offset: per collective, the rank's end minus the median end; the median of that over collectives
    count = min(len(v) for v in ends.values())
    offsets = {r: median(ends[r][i] - median(ends[q][i] for q in ends) for i in range(count)) for r in ends}  # µs
    others = [r for r in ends if r != SKEWED_RANK]
    spread = max(max(ends[r][i] for r in others) - min(ends[r][i] for r in others) for i in range(count))  # µs
    assert abs(offsets[SKEWED_RANK] - AHEAD_US) <= spread  # the oracle sees the shift

    proc = run_cli("analyze", folder, "--fleet", "--workers", "2", "--cache-dir", tmp_path / "cache", "-f", "json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    clock = {c["rank"]: c for c in result["clock"]}
    for rank, want_us in offsets.items():
        assert abs(clock[rank]["offset_ns"] / 1e3 - want_us) <= 1.0, (rank, clock[rank], want_us)
    # the rank's own collectives agree with its (wrong) offset: the residual stays small
    assert clock[SKEWED_RANK]["residual_ns"] / 1e3 <= spread
    (warning,) = [w for w in result["warnings"] if "contradict the clock anchors" in w]
    assert f"rank {SKEWED_RANK} by {AHEAD_US / 1e3:.2f} ms" in warning
    assert all(f"rank {r} by" not in warning for r in docs if r != SKEWED_RANK)
