"""Issue 22, a request file inside a bundle: `inferscope record --requests PATH -- CMD` copies the file CMD wrote
into the bundle when CMD ends and records it in the manifest; `inferscope analyze BUNDLE` joins it without being
told, says so, and an explicit --requests wins. Recorded here with the real nsys (CPU-only, as in
test_record_cli.py) over tests/workloads/write_requests.py, a stand-in load generator that replays the shared AIPerf
run with its timestamps moved to the recording's time. Expectations come from the raw files (json, sqlite3).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, TRACES, needs_nsys, record_until_nsys_cooperates, run_cli

WORKLOAD = REPO / "tests" / "workloads" / "write_requests.py"
AIPERF = TRACES / "aiperf" / "gptoss20b_streaming_c100" / "profile_export.jsonl"
CPU_ONLY = "-t osrt -s none --cpuctxsw=none"
STALL_ENV = {"INFERSCOPE_NSYS_STALL_S": "45"}

pytestmark = pytest.mark.skipif(not AIPERF.exists(), reason="shared traces missing")


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _manifest(bundle: Path) -> dict:
    return json.loads((bundle / "manifest.json").read_text())


def _analyze(bundle: Path, tmp: Path, cache_dir, *extra: str) -> tuple:
    out = tmp / f"analysis{len(list(tmp.glob('analysis*.json')))}.json"
    r = run_cli("analyze", bundle, "-f", "json", "-o", out, "--cache-dir", cache_dir, *extra)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(out.read_text()), r.stderr


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    if shutil.which("nsys") is None:
        pytest.skip("the nsys CLI is not installed (.ci/run installs it)")
    tmp = tmp_path_factory.mktemp("record_requests")

    def once(attempt: int):
        bundle, written = tmp / f"bundle{attempt}", tmp / f"run{attempt}" / "profile_export.jsonl"
        written.parent.mkdir()
        proc = run_cli(
            "record", "-o", bundle, "--nsys-args", CPU_ONLY, "--requests", written, "--",
            sys.executable, WORKLOAD, AIPERF, written,
            env=STALL_ENV, timeout=300,
        )  # fmt: skip
        return bundle, proc, written

    bundle, proc, written = record_until_nsys_cooperates(once, 3)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return bundle, proc, written


@needs_nsys
def test_the_request_file_is_copied_and_in_the_manifest(recorded):
    bundle, proc, written = recorded
    m = _manifest(bundle)
    assert m["requests"] == {
        "given": str(written),
        "file": "requests/profile_export.jsonl",
        "bytes": written.stat().st_size,
        "modified_during_recording": True,
    }
    assert (bundle / "requests" / "profile_export.jsonl").read_bytes() == written.read_bytes()
    assert "requests/profile_export.jsonl" in m["files"]
    assert "warning" not in proc.stderr


@needs_nsys
def test_analyze_joins_the_bundled_file_and_says_so(recorded, tmp_path, cache_dir):
    bundle, _, written = recorded
    doc, err = _analyze(bundle, tmp_path, cache_dir)
    carried = (bundle / "requests" / "profile_export.jsonl").resolve()
    assert f"requests from the bundle's own {carried}" in err
    al = doc["serving"]["alignment"]
    assert al["origin"] == "carried in the bundle" and al["file"] == "profile_export.jsonl"
    raw = _lines(written)
    assert al["count"] == str(len(raw)) and al["source"] == "aiperf"
    assert al["cancelled"] == str(sum(1 for r in raw if r.get("error")))
    con = sqlite3.connect(bundle / "profile.sqlite")  # the recorder's export: the session's UTC zero
    (utc,) = con.execute("SELECT utcEpochNs FROM TARGET_INFO_SESSION_START_TIME").fetchone()
    con.close()
    assert al["offset_ns"] == str(-utc)
    # the workload sent its first request after nsys started: every request starts after the session's zero
    assert min(r["metadata"]["timestamp_ns"] for r in raw) > utc


@needs_nsys
def test_an_explicit_requests_file_overrides_the_bundled_one(recorded, tmp_path, cache_dir):
    bundle, _, _ = recorded
    other = tmp_path / "first_ten.jsonl"  # EDIT: the first ten records of the shared run
    other.write_text("".join(line + "\n" for line in AIPERF.read_text().splitlines()[:10]))
    doc, err = _analyze(bundle, tmp_path, cache_dir, "--requests", other)
    assert f"requests from {other} (--requests), not the bundle's own profile_export.jsonl" in err
    al = doc["serving"]["alignment"]
    assert al["origin"] == "given" and al["file"] == "first_ten.jsonl" and al["count"] == "10"


@needs_nsys
def test_a_damaged_bundled_file_costs_the_serving_block_not_the_analysis(recorded, tmp_path, cache_dir):
    bundle, _, _ = recorded
    edited = tmp_path / "bundle.request_file_truncated"  # EDIT: a copy whose request file lost its tail
    shutil.copytree(bundle, edited)
    carried = edited / "requests" / "profile_export.jsonl"
    carried.write_bytes(carried.read_bytes()[:500])
    doc, err = _analyze(edited, tmp_path, cache_dir)
    assert "serving" not in doc
    [line] = [x for x in err.splitlines() if "request file" in x]
    assert line.startswith("inferscope: warning: the bundle's request file is not used:") and "not JSON" in line
    assert line.endswith("analysed without requests")


def test_a_request_file_missing_at_the_end_is_a_warning_and_the_bundle_is_written(tmp_path, cache_dir):
    bundle, never = tmp_path / "bundle", tmp_path / "never_written.jsonl"
    proc = run_cli(
        "record", "-o", bundle, "--no-nsys", "--requests", never, "--", sys.executable, "-c", "pass", timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    [line] = [x for x in proc.stderr.splitlines() if "--requests" in x]
    assert line.startswith(f"inferscope: warning: --requests {never}: it did not exist when the workload ended")
    m = _manifest(bundle)
    assert m["status"] == "complete" and m["requests"]["file"] is None and "did not exist" in m["requests"]["why"]
    assert not (bundle / "requests").exists()
    doc, err = _analyze(bundle, tmp_path, cache_dir)
    assert "serving" not in doc
    assert f"recorded with --requests {never} but it did not exist when the workload ended" in err


def test_a_directory_is_refused_before_anything_is_written(tmp_path):
    bundle = tmp_path / "bundle"
    proc = run_cli("record", "-o", bundle, "--no-nsys", "--requests", tmp_path, "--", sys.executable, "-c", "pass")
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "a directory; name the request file itself" in proc.stderr
    assert not bundle.exists()


@needs_nsys
def test_the_python_api_joins_the_bundled_file_too(recorded, cache_dir):
    bundle, _, written = recorded
    import inferscope

    with inferscope.open(bundle, cache_dir=cache_dir) as t:
        assert t.bundled_requests() == (bundle / "requests" / "profile_export.jsonl").resolve()
        serving = t.analyze().to_dict()["serving"]
    assert serving["alignment"]["origin"] == "carried in the bundle"
    assert serving["serving"]["requests"] == len(_lines(written))
    with inferscope.open(REPO / "sample_traces" / "annotated_inference_nsys2022.4.sqlite", cache_dir=cache_dir) as t:
        assert t.bundled_requests() is None  # not a bundle: nothing to join
