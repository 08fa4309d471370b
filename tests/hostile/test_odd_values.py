"""Issue 17 items 5 and 6: impossible and odd values in real exports, edited in the test. Each case runs the real
CLI (or inferscope.open) on the edited copy and checks that the numbers leave the bad rows out, that trace_meta
counts them (`Trace.quality()`), and that nothing ends in a traceback."""

from __future__ import annotations

import csv
import gzip
import io
import json
import sqlite3
from pathlib import Path

import pytest

import inferscope
from tests.conftest import KINETO_TRACES, SAMPLES, needs_shared, run_cli
from tests.synth import copy_export

H100 = SAMPLES / "h100_2gpu_fastvideo.sqlite"
INT64_MAX = (1 << 63) - 1


def _relax(con: sqlite3.Connection, table: str) -> None:
    """Recreate `table` without its NOT NULL / PRIMARY KEY constraints (same columns and rows), so that the
    edits below can write what a damaged or hand-merged export holds."""
    con.execute(f'CREATE TABLE "_relaxed" AS SELECT * FROM "{table}"')
    con.execute(f'DROP TABLE "{table}"')
    con.execute(f'ALTER TABLE "_relaxed" RENAME TO "{table}"')


def _kernels(con: sqlite3.Connection) -> int:
    return con.execute("SELECT count(*) FROM CUPTI_ACTIVITY_KIND_KERNEL").fetchone()[0]


def _stats(path: Path, report: str, cache: Path) -> list[dict]:
    r = run_cli("stats", path, "-r", report, "-f", "csv", "--cache-dir", cache)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    return list(csv.DictReader(io.StringIO(r.stdout)))


def _open(path: Path, cache: Path) -> inferscope.Trace:
    return inferscope.open(path, cache_dir=cache)


def test_end_before_start_is_dropped_and_counted(tmp_path):
    path, con = copy_export(H100, tmp_path, "backwards")
    total = _kernels(con)
    with con:
        con.execute('UPDATE CUPTI_ACTIVITY_KIND_KERNEL SET "end" = start - 5000 WHERE rowid % 10 = 0')
    bad = con.execute('SELECT count(*) FROM CUPTI_ACTIVITY_KIND_KERNEL WHERE "end" < start').fetchone()[0]
    con.close()
    rows = _stats(path, "cuda_gpu_kern_sum", tmp_path / "cache")
    assert all(int(r["Min (ns)"]) >= 0 for r in rows)  # before: -5,000 ns kernels
    assert sum(int(r["Instances"]) for r in rows) == total - bad
    with _open(path, tmp_path / "cache") as t:
        assert t.quality()["kernels.end_before_start"]["count"] == bad
        assert t.sql("SELECT count(*) AS n FROM kernels WHERE dur_ns < 0")["n"][0] == 0


def test_null_times_are_counted_not_silent(tmp_path):
    path, con = copy_export(H100, tmp_path, "null_times")
    total = _kernels(con)
    with con:
        _relax(con, "CUPTI_ACTIVITY_KIND_KERNEL")
        con.execute('UPDATE CUPTI_ACTIVITY_KIND_KERNEL SET "end" = NULL WHERE rowid % 3 = 0')
        con.execute("UPDATE CUPTI_ACTIVITY_KIND_KERNEL SET start = NULL WHERE rowid % 7 = 0")
    bad = con.execute(
        'SELECT count(*) FROM CUPTI_ACTIVITY_KIND_KERNEL WHERE start IS NULL OR "end" IS NULL'
    ).fetchone()[0]
    con.close()
    with _open(path, tmp_path / "cache") as t:
        assert t.quality()["kernels.missing_time"]["count"] == bad
        assert t.sql("SELECT count(*) AS n FROM kernels")["n"][0] == total - bad
        assert t.sql("SELECT count(*) AS n FROM kernels WHERE start_ns IS NULL OR end_ns IS NULL")["n"][0] == 0


def test_end_at_int64_max_does_not_crash(tmp_path):
    path, con = copy_export(H100, tmp_path, "int64_end")
    with con:
        con.execute(f'UPDATE CUPTI_ACTIVITY_KIND_KERNEL SET "end" = {INT64_MAX} WHERE rowid % 50 = 0')
    bad = con.execute(f'SELECT count(*) FROM CUPTI_ACTIVITY_KIND_KERNEL WHERE "end" = {INT64_MAX}').fetchone()[0]
    con.close()
    r = run_cli("stats", path, "--cache-dir", tmp_path / "cache")
    assert r.returncode == 0, r.stderr  # before: ConversionException summing dur_ns
    assert "Traceback" not in r.stderr and "Conversion" not in r.stderr
    with _open(path, tmp_path / "cache") as t:
        assert t.quality()["kernels.huge_duration"]["count"] == bad
        assert t.sql("SELECT max(dur_ns) AS m FROM kernels")["m"][0] < 10**12


def test_duplicate_string_ids_do_not_double_calls(tmp_path):
    clean = _stats(H100, "cuda_api_sum", tmp_path / "cache")
    path, con = copy_export(H100, tmp_path, "dup_strings")
    with con:
        _relax(con, "StringIds")
        dups = con.execute(
            "INSERT INTO StringIds SELECT id, value || ' (copy)' FROM StringIds "
            "WHERE id IN (SELECT nameId FROM CUPTI_ACTIVITY_KIND_RUNTIME)"
        ).rowcount
    con.close()
    rows = _stats(path, "cuda_api_sum", tmp_path / "cache")
    assert {r["Name"]: int(r["Num Calls"]) for r in rows} == {r["Name"]: int(r["Num Calls"]) for r in clean}
    with _open(path, tmp_path / "cache") as t:
        assert t.quality()["strings.duplicate_id"]["count"] == dups > 0


def test_non_numeric_session_start(tmp_path):
    path, con = copy_export(H100, tmp_path, "utc_text")
    with con:
        con.execute("UPDATE TARGET_INFO_SESSION_START_TIME SET utcEpochNs = 'yesterday'")
    con.close()
    for command in (["stats"], ["stats", "-r", "nvtx_sum"]):
        r = run_cli(*command, path, "--cache-dir", tmp_path / "cache")
        assert r.returncode == 0, r.stderr
        assert "Traceback" not in r.stderr and "internal error" not in r.stderr
    with _open(path, tmp_path / "cache") as t:
        assert "session_start_utc_ns" not in t.meta
        assert t.quality()["trace_meta.bad_session_start"]["count"] == 1


def test_null_kernel_names_export_to_perfetto(tmp_path):
    path, con = copy_export(H100, tmp_path, "unnamed")
    with con:
        _relax(con, "CUPTI_ACTIVITY_KIND_KERNEL")
        con.execute(
            "UPDATE CUPTI_ACTIVITY_KIND_KERNEL SET demangledName = NULL, shortName = NULL, mangledName = NULL "
            "WHERE rowid % 4 = 0"
        )
    unnamed = con.execute("SELECT count(*) FROM CUPTI_ACTIVITY_KIND_KERNEL WHERE shortName IS NULL").fetchone()[0]
    con.close()
    out = tmp_path / "unnamed.json"
    r = run_cli("export-perfetto", path, "-o", out, "--cache-dir", tmp_path / "cache")
    assert r.returncode == 0, r.stderr  # before: TypeError joining a NULL event line
    events = json.loads(out.read_text())["traceEvents"]
    kernels = [e for e in events if e.get("cat") == "kernel" and e.get("ph") == "X"]
    assert sum(e["name"] == "(unnamed)" for e in kernels) == unnamed


@needs_shared
def test_kineto_invalid_durations_are_counted(tmp_path):
    doc = json.loads(gzip.open(KINETO_TRACES / "alexnet_cuda_sync.json.gz").read())
    kernels = [e for e in doc["traceEvents"] if e.get("cat") == "kernel"]
    for i, e in enumerate(kernels):
        e["dur"] = [-5, float("nan"), 1e30, "NaN"][i % 4]
    path = tmp_path / "bad_durations.json"
    path.write_text(json.dumps(doc))  # NaN is written as the bare token Python's json emits
    r = run_cli("stats", path, "-r", "cuda_gpu_kern_sum", "--cache-dir", tmp_path / "cache")
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    with _open(path, tmp_path / "cache") as t:
        q = t.quality()
        assert q["kernels.negative_duration"]["count"] == len(kernels[0::4])
        assert q["kernels.missing_duration"]["count"] == len(kernels[1::4]) + len(kernels[3::4])
        assert q["kernels.huge_duration"]["count"] == len(kernels[2::4])
        assert sum(v["count"] for v in q.values()) == len(kernels)


@pytest.mark.parametrize("clean", [H100, pytest.param(KINETO_TRACES / "alexnet_cuda_sync.json.gz", marks=needs_shared)])
def test_clean_traces_report_no_problems(clean, tmp_path):
    with _open(clean, tmp_path / "cache") as t:
        assert t.quality() == {}


@needs_shared
@pytest.mark.parametrize(
    "bad_ts",
    [None, "soon", float("nan"), 1e300],
    ids=["missing", "text", "NaN", "beyond-int64"],
)
def test_kineto_invalid_timestamps_are_counted(tmp_path, bad_ts):
    """Kineto kernels whose `ts` is absent, text, NaN or past any clock: left out and counted, never a crash, and
    the rest of the kernels and their time are exactly the untouched ones (summed here from the JSON itself)."""
    doc = json.loads(gzip.open(KINETO_TRACES / "alexnet_cuda_sync.json.gz").read())
    kernels = [e for e in doc["traceEvents"] if e.get("cat") == "kernel"]
    for e in kernels[::3]:
        if bad_ts is None:
            del e["ts"]
        else:
            e["ts"] = bad_ts
    kept = [e for i, e in enumerate(kernels) if i % 3]
    path = tmp_path / "bad_ts.json"
    path.write_text(json.dumps(doc))
    r = run_cli("analyze", path, "-f", "json", "--cache-dir", tmp_path / "cache")
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    assert json.loads(r.stdout)["data_quality"]["kernels.missing_time"]["count"] == len(kernels[::3])
    with _open(path, tmp_path / "cache") as t:
        got = t.sql("SELECT count(*) AS n, sum(dur_ns) AS s FROM kernels").to_dict("records")[0]
    assert got["n"] == len(kept)
    assert int(got["s"]) == round(sum(e["dur"] for e in kept) * 1000)
