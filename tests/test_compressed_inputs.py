"""Compressed inputs are read as they are: gzip'd nsys SQLite and Arrow exports, Kineto .json.gz (tested with the
Kineto ingest), gzip'd annotation files in a bundle and AIPerf request files (.jsonl.gz). Expectations come from the uncompressed file, read with
plain sqlite3 or through the same command."""

from __future__ import annotations

import gzip
import json
import shutil
import sqlite3
import subprocess
import sys
import time

import pytest

from inferscope import model
from inferscope.ingest import annotation_files, detect

from .conftest import NSYS_REPS, REPO, SAMPLES, TRACES, needs_nsys, run_cli

H200_GZ = TRACES / "h200" / "h200_gpu_metrics_nsys2025.3.sqlite.gz"
SMALL = SAMPLES / "annotated_inference_nsys2022.4.sqlite"


def _gzip(src, dst):
    with src.open("rb") as f, gzip.open(dst, "wb", compresslevel=1) as g:
        shutil.copyfileobj(f, g)
    return dst


def test_sqlite_gz_gives_the_same_reports_as_the_plain_export(tmp_path):
    gz = _gzip(SMALL, tmp_path / "run.sqlite.gz")
    assert detect(gz) == "nsys-sqlite-gz"
    plain = run_cli("stats", SMALL, "-f", "json", "--cache-dir", tmp_path / "c1")
    packed = run_cli("stats", gz, "-f", "json", "--cache-dir", tmp_path / "c2")
    assert plain.returncode == 0 and packed.returncode == 0, packed.stderr
    assert json.loads(packed.stdout) == json.loads(plain.stdout)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c1", "c2", "run.sqlite.gz"]  # nothing left beside it


@pytest.mark.skipif(not H200_GZ.exists(), reason=f"shared H200 export not found at {H200_GZ}")
def test_shared_sqlite_gz_counts_match_sqlite3(tmp_path):
    """The shared H200 export is only distributed compressed: its kernel and NVTX counts, read with sqlite3 from a
    copy inflated here, must be what `query` sees through the .gz."""
    plain = tmp_path / "h200.sqlite"
    with gzip.open(H200_GZ, "rb") as g, plain.open("wb") as f:
        shutil.copyfileobj(g, f)
    con = sqlite3.connect(plain)
    kernels = con.execute("SELECT count(*) FROM CUPTI_ACTIVITY_KIND_KERNEL").fetchone()[0]
    busy = con.execute("SELECT sum(end - start) FROM CUPTI_ACTIVITY_KIND_KERNEL").fetchone()[0]
    con.close()
    proc = run_cli(
        "query",
        H200_GZ,
        "SELECT count(*) AS n, sum(end_ns - start_ns) AS busy FROM kernels",
        "-f",
        "json",
        "--cache-dir",
        tmp_path / "cache",
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == [{"n": kernels, "busy": busy}]


@needs_nsys
@pytest.mark.skipif(not NSYS_REPS, reason="no .nsys-rep in the shared traces to export as Arrow")
def test_arrows_gz_matches_the_arrow_export(tmp_path):
    arrows = tmp_path / "x.arrows"
    subprocess.run(
        ["nsys", "export", "--type", "arrow", "--force-overwrite", "true", "-o", str(arrows), str(NSYS_REPS[0])],
        check=True,
        capture_output=True,
        timeout=600,
    )
    gz = _gzip(arrows, tmp_path / "x.arrows.gz")
    assert detect(gz) == "nsys-arrow-gz"
    sql = "SELECT count(*) AS n, sum(end_ns - start_ns) AS t FROM kernels"
    a = run_cli("query", arrows, sql, "-f", "json", "--cache-dir", tmp_path / "c1")
    b = run_cli("query", gz, sql, "-f", "json", "--cache-dir", tmp_path / "c2")
    assert a.returncode == 0 and b.returncode == 0, b.stderr
    assert json.loads(a.stdout) == json.loads(b.stdout)


def test_truncated_gzip_is_one_line_and_leaves_no_cache(tmp_path):
    whole = _gzip(SMALL, tmp_path / "whole.sqlite.gz").read_bytes()
    cut = tmp_path / "cut.sqlite.gz"
    cut.write_bytes(whole[: len(whole) // 2])
    proc = run_cli("stats", cut, "--cache-dir", tmp_path / "cache")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "truncated or corrupt gzip" in lines[0] and "Traceback" not in proc.stderr
    assert not any((tmp_path / "cache").rglob("*.parquet"))


def test_gzipped_annotation_files_read_like_plain_ones(tmp_path):
    """A bundle archived with its annotation files compressed: the same ranges and marks come back."""
    example = REPO / "examples" / "annotated_inference.py"
    plain_dir = tmp_path / "plain"
    plain_dir.mkdir()
    t0 = time.time_ns()
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "INFERSCOPE_ANNOTATIONS": str(plain_dir)}
    subprocess.run([sys.executable, str(example)], env=env, check=True, capture_output=True, timeout=120)
    (src,) = plain_dir.glob("annotations-*.jsonl")
    gz_dir = tmp_path / "gz"
    gz_dir.mkdir()
    _gzip(src, gz_dir / (src.name + ".gz"))
    empty = {name: model.empty_table(name) for name in model.TABLE_BY_NAME}
    a = annotation_files.merge(dict(empty), plain_dir, session_start_utc_ns=t0)
    b = annotation_files.merge(dict(empty), gz_dir, session_start_utc_ns=t0)
    assert a["nvtx_ranges"].num_rows > 0
    for name in ("nvtx_ranges", "nvtx_marks"):
        assert b[name].to_pylist() == a[name].to_pylist(), name


AIPERF_RECORDS = TRACES / "aiperf" / "gptoss20b_streaming_c100" / "profile_export.jsonl"


@pytest.mark.skipif(not AIPERF_RECORDS.exists(), reason=f"shared AIPerf records not found at {AIPERF_RECORDS}")
def test_gzipped_request_file_joins_like_the_plain_one(tmp_path):
    """AIPerf's profile_export.jsonl archived as .jsonl.gz: `analyze --requests` gives the same serving section as
    with the plain file, and reads every record the raw file holds (counted here with json)."""
    records = [json.loads(x) for x in AIPERF_RECORDS.read_text(encoding="utf-8").splitlines() if x.strip()]
    gz = _gzip(AIPERF_RECORDS, tmp_path / "profile_export.jsonl.gz")
    out = {}
    for name, requests in (("plain", AIPERF_RECORDS), ("gz", gz)):
        proc = run_cli("analyze", SMALL, "--requests", requests, "-f", "json", "--cache-dir", tmp_path / "cache")
        assert proc.returncode == 0, proc.stderr
        out[name] = json.loads(proc.stdout)["serving"]
    assert out["gz"]["alignment"].pop("file") == gz.name
    assert out["plain"]["alignment"].pop("file") == AIPERF_RECORDS.name
    assert out["gz"] == out["plain"]
    assert int(out["gz"]["alignment"]["count"]) == len(records)


@pytest.mark.skipif(not AIPERF_RECORDS.exists(), reason=f"shared AIPerf records not found at {AIPERF_RECORDS}")
def test_truncated_gzipped_request_file_is_one_line(tmp_path):
    whole = _gzip(AIPERF_RECORDS, tmp_path / "whole.jsonl.gz").read_bytes()
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(whole[: len(whole) // 2])
    proc = run_cli("analyze", SMALL, "--requests", cut, "--cache-dir", tmp_path / "cache")
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert "cut.jsonl.gz: truncated or corrupt gzip" in lines[0]
