"""Rank identity (issue 23): which rank a trace is and where that was read, and the refusal of a set of traces
that cannot be one job. Pure functions over trace_meta dictionaries, plus the shared 8-rank set's real metadata
read back through the converter."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from inferscope.errors import TraceInputError
from inferscope.ingest.rank_identity import RankIdentity, check_one_job, identify
from tests.conftest import TRACES

FLEET = TRACES / "fleet" / "dlrm_v100x8_ddp"
needs_fleet = pytest.mark.skipif(not FLEET.is_dir(), reason=f"shared fleet traces not found at {FLEET}")


def test_distributed_info_wins_over_everything_else():
    meta = {"rank": "3", "world_size": "8", "distributed_backend": "nccl", "env.RANK": "5", "command": "x --rank 6"}
    ident = identify(meta, Path("rank_9.json"))
    assert (ident.rank, ident.world_size, ident.backend, ident.source) == (3, 8, "nccl", "distributedInfo")


@pytest.mark.parametrize(
    ("env", "rank", "size", "local", "source"),
    [
        ({"env.RANK": "2", "env.WORLD_SIZE": "4", "env.LOCAL_RANK": "0"}, 2, 4, 0, "env:RANK"),
        ({"env.OMPI_COMM_WORLD_RANK": "1", "env.OMPI_COMM_WORLD_SIZE": "2"}, 1, 2, None, "env:OMPI_COMM_WORLD_RANK"),
        ({"env.SLURM_PROCID": "7", "env.SLURM_NTASKS": "16", "env.SLURM_LOCALID": "3"}, 7, 16, 3, "env:SLURM_PROCID"),
    ],
)
def test_process_environment(env, rank, size, local, source):
    ident = identify(env, Path("report.sqlite"))
    assert (ident.rank, ident.world_size, ident.local_rank, ident.source) == (rank, size, local, source)


def test_command_line_then_file_name():
    ident = identify({"command": "python train.py --world_size=4 --rank 3 --local-rank=1"}, Path("a.sqlite"))
    assert (ident.rank, ident.world_size, ident.local_rank, ident.source) == (3, 4, 1, "command line")
    ident = identify({}, Path("job_worker12_step3.json.gz"))
    assert (ident.rank, ident.world_size, ident.source) == (12, None, "file name")
    assert identify({}, Path("trace.json")) is None


def _ids(*specs) -> dict:
    return {
        f"r{i}.json": RankIdentity(rank, "distributedInfo", size, None, "nccl") for i, (rank, size) in enumerate(specs)
    }


def test_one_job_passes():
    check_one_job(_ids((0, 4), (1, 4), (2, 4), (3, 4)))


@pytest.mark.parametrize(
    ("identities", "words"),
    [
        (_ids((0, 4), (0, 4)), "are both rank 0"),
        (_ids((0, 4), (1, 8)), "different jobs (world sizes 4, 8)"),
        (_ids((0, 2), (5, 2)), "outside world size 2"),
        ({"a.json": RankIdentity(0, "distributedInfo"), "b.json": None}, "names no rank"),
        (
            {
                "a.sqlite": RankIdentity(0, "env:RANK", 2, job=(("SLURM_JOB_ID", "11"),)),
                "b.sqlite": RankIdentity(1, "env:RANK", 2, job=(("SLURM_JOB_ID", "12"),)),
            },
            "differ in SLURM_JOB_ID",
        ),
    ],
)
def test_mixed_sets_are_refused_in_one_line(identities, words):
    with pytest.raises(TraceInputError) as info:
        check_one_job(identities)
    assert words in str(info.value) and "\n" not in str(info.value)


@needs_fleet
def test_shared_ranks_identify_from_distributed_info(tmp_path):
    """The converter keeps distributedInfo in trace_meta; identify reads the same rank the raw JSON holds."""
    from inferscope.engine.trace import open_trace

    path = sorted(FLEET.glob("*.json.gz"))[3]
    raw = json.loads(gzip.decompress(path.read_bytes()))["distributedInfo"]
    with open_trace(path, cache_dir=tmp_path) as t:
        ident = identify(t.meta, path)
    assert (ident.rank, ident.world_size, ident.backend) == (raw["rank"], raw["world_size"], raw["backend"])
    assert ident.source == "distributedInfo"


@needs_fleet
def test_peek_reads_distributed_info_from_the_head_of_the_file(tmp_path):
    """What the fleet checks before converting: the same identity as the converter's, from the first MiB."""
    from inferscope.ingest.rank_identity import peek

    for path in sorted(FLEET.glob("*.json.gz")):
        raw = json.loads(gzip.decompress(path.read_bytes()))["distributedInfo"]
        ident = peek(path)
        assert (ident.rank, ident.world_size, ident.backend, ident.source) == (
            raw["rank"],
            raw["world_size"],
            raw["backend"],
            "distributedInfo",
        )
    (tmp_path / "worker3.json").write_text('{"traceEvents": []}')
    assert peek(tmp_path / "worker3.json") is None  # a file name is not read before conversion
    (tmp_path / "bad.json.gz").write_bytes(b"\x1f\x8bnot gzip")
    assert peek(tmp_path / "bad.json.gz") is None


def test_partial_check_ignores_traces_not_yet_identified():
    check_one_job({"a.json": RankIdentity(0, "distributedInfo", 2), "b.sqlite": None}, partial=True)
    with pytest.raises(TraceInputError, match="both rank 0"):
        check_one_job(
            {"a.json": RankIdentity(0, "distributedInfo", 2), "b.json": RankIdentity(0, "distributedInfo", 2)},
            partial=True,
        )
