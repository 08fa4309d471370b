"""`inferscope compare --fleet` (issue 23): two fleets gated on the job's step time and explained by rank.

The base is the shared 8-rank DDP job; the new fleet is derived from it and named so: the same rank files except
rank 5 (`derived_late_stall_rank5...`), which spends DELAY_US more after its last collective (every event that
starts after that collective's end moves later, and the ranges that span it, its ProfilerStep among them, grow),
so that rank 5 paces the job while every collective stays as it was. Expectations come from the raw JSON in plain
Python: each rank's step is its ProfilerStep event's duration, and a synchronous job's step is its longest rank's.
The runs use a real Dask LocalCluster through the CLI.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from tests.conftest import REPO, TRACES, run_cli

FLEET = TRACES / "fleet" / "dlrm_v100x8_ddp"
RANK_FILES = sorted(FLEET.glob("*.json.gz")) if FLEET.is_dir() else []
pytestmark = [
    pytest.mark.skipif(len(RANK_FILES) < 2, reason=f"shared fleet traces not found at {FLEET}"),
    pytest.mark.heavy,
]
SLOWER_RANK = 5
DELAY_US = 6000  # rank 5's step (17.8 ms) becomes the longest (the longest real one is 19.9 ms)


def _raw(path: Path) -> dict:
    return json.loads(gzip.decompress(path.read_bytes()))


def _step_us(doc: dict) -> float:
    (step,) = [e for e in doc["traceEvents"] if e.get("name", "").startswith("ProfilerStep#")]
    return step["dur"]


def _within_1pct(ns: float, us: float) -> bool:
    return abs(ns / 1e3 - us) <= 0.01 * abs(us)


@pytest.fixture(scope="module")
def fleets(tmp_path_factory):
    """Base and new rank folders, the raw steps of each, and a shared cache (the 7 unchanged ranks convert once)."""
    root = tmp_path_factory.mktemp("fleets")
    base, new = root / "base", root / "new"
    base.mkdir()
    new.mkdir()
    steps_base, steps_new = {}, {}
    for f in RANK_FILES:
        doc = _raw(f)
        rank = doc["distributedInfo"]["rank"]
        (base / f.name).symlink_to(f)
        steps_base[rank] = _step_us(doc)
        if rank != SLOWER_RANK:
            (new / f.name).symlink_to(f)
            steps_new[rank] = steps_base[rank]
            continue
        timed = [e for e in doc["traceEvents"] if isinstance(e.get("ts"), (int, float))]
        last = max(e["ts"] + e["dur"] for e in timed if e.get("cat") == "kernel" and "nccl" in e["name"].lower())
        for e in timed:
            if e["ts"] > last:
                e["ts"] += DELAY_US
            elif e["ts"] + e.get("dur", 0) > last:
                e["dur"] += DELAY_US
        doc["traceName"] = f"derived: {f.name} with {DELAY_US} us more after its last collective"
        (new / f"derived_late_stall_rank{rank}.json.gz").write_bytes(gzip.compress(json.dumps(doc).encode()))
        steps_new[rank] = _step_us(doc)
        assert steps_new[rank] == steps_base[rank] + DELAY_US
    return {"base": base, "new": new, "steps_base": steps_base, "steps_new": steps_new, "cache": root / "cache"}


@pytest.fixture(scope="module")
def regression(fleets):
    return run_cli(
        "compare", "--fleet", fleets["base"], fleets["new"], "-f", "json", "--workers", "2",
        "--cache-dir", fleets["cache"],
    )  # fmt: skip


@pytest.fixture(scope="module")
def base_json(fleets, tmp_path_factory):
    out = tmp_path_factory.mktemp("saved") / "base-fleet.json"
    proc = run_cli("analyze", fleets["base"], "--fleet", "-o", out, "--workers", "2", "--cache-dir", fleets["cache"])
    assert proc.returncode == 0, proc.stderr
    return out


def test_a_rank_with_a_longer_step_is_a_regression_of_the_job(fleets, regression):
    assert regression.returncode == 1, regression.stderr
    c = json.loads(regression.stdout)
    want_base, want_new = max(fleets["steps_base"].values()), max(fleets["steps_new"].values())
    assert c["verdict"] == "regression"
    assert _within_1pct(c["base_step_ns"], want_base) and _within_1pct(c["new_step_ns"], want_new)
    assert abs(c["change"] - (want_new / want_base - 1)) <= 0.01
    assert c["base_pacing_rank"] == max(fleets["steps_base"], key=fleets["steps_base"].get)
    assert c["new_pacing_rank"] == SLOWER_RANK


def test_json_follows_the_fleet_compare_schema(regression):
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((REPO / "inferscope" / "schemas" / "fleet-compare-v1.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(json.loads(regression.stdout), schema)


def test_the_ranks_explain_the_change(fleets, regression):
    c = json.loads(regression.stdout)
    rows = {r["rank"]: r for r in c["ranks"]}
    assert sorted(rows) == sorted(fleets["steps_base"])
    for rank, row in rows.items():
        delta_us = fleets["steps_new"][rank] - fleets["steps_base"][rank]
        assert abs(row["delta_step_ns"] / 1e3 - delta_us) <= max(1.0, 0.01 * abs(delta_us)), rank
    (line,) = [line for line in c["explanation"] if line.startswith(f"rank {SLOWER_RANK} moved most")]
    # the stall is after the last collective and moves no GPU work's duration: the step grew as GPU idle time
    assert f"GPU idle {DELAY_US / 1e3:+.2f} ms" in line and f"compute {0:+.2f} ms" in line, line
    # the collectives were not touched: the straggler (from the collectives) is the base's
    assert c["new_straggler"] == c["base_straggler"] is not None
    # both sides were analysed: one progress line per rank and side
    for side in ("base", "new"):
        assert regression.stderr.count(f"inferscope: {side}: rank ") == len(RANK_FILES)


def test_a_fleet_against_its_saved_json_passes(fleets, base_json):
    proc = run_cli("compare", "--fleet", base_json, fleets["base"], "--workers", "2", "--cache-dir", fleets["cache"])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("# InferScope fleet compare: Pass")
    assert f"{max(fleets['steps_base'].values()) / 1e3:.2f} ms -> " in proc.stdout
    assert "no noise estimate" in proc.stdout


def test_a_different_world_size_is_not_comparable(base_json, tmp_path):
    """An edited copy of the saved base fleet that claims 16 ranks (named derived)."""
    doc = json.loads(base_json.read_text())
    for t in doc["traces"]:
        t["world_size"] = 16
    other = tmp_path / "derived_world16_fleet.json"
    other.write_text(json.dumps(doc))
    proc = run_cli("compare", "--fleet", base_json, other, "-f", "json")
    assert proc.returncode == 2
    assert json.loads(proc.stdout)["verdict"] == "not_comparable"
    assert proc.stderr.strip().splitlines() == [
        "inferscope: not comparable: world size 8 -> 16: a different job shape; pass --allow-hardware-change to "
        "compare anyway"
    ]
    allowed = run_cli("compare", "--fleet", base_json, other, "-f", "json", "--allow-hardware-change")
    assert allowed.returncode == 0, allowed.stderr
    assert json.loads(allowed.stdout)["verdict"] == "pass"


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--window", "1s:2s"], "--window does not apply to --fleet"),
        (["--junit", "x.xml"], "--junit does not apply to --fleet"),
        (["-f", "github"], "unknown format 'github' for --fleet"),
    ],
)
def test_options_a_fleet_compare_cannot_use_are_one_line(base_json, extra, words):
    proc = run_cli("compare", "--fleet", base_json, base_json, *extra)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"inferscope: error: {words}")


def test_scheduler_without_fleet_is_one_line(base_json):
    proc = run_cli("compare", base_json, base_json, "--scheduler", "tcp://127.0.0.1:9")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "inferscope: error: --scheduler and --workers apply to fleets; add --fleet"
    ]
