"""The Parquet cache (reuse, invalidation, atomic writes, fallbacks) and the export formats nsys writes."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import inferscope
from inferscope import ingest, model
from inferscope.engine import cache
from inferscope.ingest import nsys_raw

from .conftest import NSYS_REPS, NSYS_TRACES, needs_nsys, needs_shared, run_cli

pytestmark = needs_shared
SMALL = NSYS_TRACES / "nsys_ai_mock.sqlite"


@pytest.fixture(autouse=True)
def user_cache(tmp_path, monkeypatch) -> Path:
    """The default cache of these tests: a private XDG cache, so nothing reaches the real user's."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv(cache.ENV_VAR, raising=False)
    return tmp_path / "xdg" / "inferscope"


@pytest.fixture
def trace_copy(tmp_path) -> Path:
    dst = tmp_path / "t.sqlite"
    shutil.copy(SMALL, dst)
    return dst


def _nothing_beside(trace: Path) -> None:
    assert sorted(p.name for p in trace.parent.iterdir() if p.name.startswith(trace.name)) == [trace.name]


def test_cache_written_to_user_cache_and_reused(trace_copy, monkeypatch, user_cache):
    t1 = inferscope.open(trace_copy)
    assert t1.cache_entry is not None and t1.cache_entry.parent == user_cache
    _nothing_beside(trace_copy)
    assert sorted(p.stem for p in t1.cache_entry.glob("*.parquet")) == sorted(model.TABLE_BY_NAME)
    kernels = t1.sql("SELECT count(*) AS n FROM kernels")["n"][0]

    def _fail(*a, **k):
        raise AssertionError("conversion ran again although the cache is valid")

    monkeypatch.setattr(ingest, "load", _fail)
    t2 = inferscope.open(trace_copy)
    assert t2.cache_entry == t1.cache_entry
    assert t2.sql("SELECT count(*) AS n FROM kernels")["n"][0] == kernels


def test_cache_invalidated_when_trace_changes(trace_copy):
    first = inferscope.open(trace_copy).cache_entry
    con = sqlite3.connect(trace_copy)
    con.execute(
        "DELETE FROM CUPTI_ACTIVITY_KIND_KERNEL WHERE rowid IN (SELECT rowid FROM CUPTI_ACTIVITY_KIND_KERNEL LIMIT 10)"
    )
    con.commit()
    con.close()
    os.utime(trace_copy, ns=(1, 2_000_000_000_000_000_000))
    second = inferscope.open(trace_copy)
    assert second.cache_entry != first
    n_db = sqlite3.connect(trace_copy).execute("SELECT count(*) FROM CUPTI_ACTIVITY_KIND_KERNEL").fetchone()[0]
    assert second.sql("SELECT count(*) AS n FROM kernels")["n"][0] == n_db


def test_no_cache_writes_nothing(trace_copy):
    before = sorted(trace_copy.parent.iterdir())
    t = inferscope.open(trace_copy, use_cache=False)
    assert t.cache_entry is None
    assert t.table("kernels").num_rows > 0
    assert sorted(trace_copy.parent.iterdir()) == before


def test_cache_dir_option(trace_copy, tmp_path):
    d = tmp_path / "elsewhere"
    t = inferscope.open(trace_copy, cache_dir=d)
    assert t.cache_entry.parent == d
    _nothing_beside(trace_copy)


def test_read_only_directory_uses_user_cache(tmp_path, user_cache):
    """Nothing is written beside a trace, so a read-only folder (which root would happily write into) is fine."""
    ro = tmp_path / "ro"
    ro.mkdir()
    src = ro / "t.sqlite"
    shutil.copy(SMALL, src)
    ro.chmod(0o555)
    try:
        t = inferscope.open(src)
        assert t.cache_entry.parent == user_cache
        assert [p.name for p in ro.iterdir()] == ["t.sqlite"]
    finally:
        ro.chmod(0o755)


def test_failed_write_leaves_nothing(trace_copy, monkeypatch, user_cache):
    real = pq.write_table
    calls = {"n": 0}

    def flaky(table, where, **kw):
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError("disk full")
        return real(table, where, **kw)

    monkeypatch.setattr(pq, "write_table", flaky)
    with pytest.raises(inferscope.TraceInputError, match="cannot write the InferScope cache"):
        inferscope.open(trace_copy)
    _nothing_beside(trace_copy)
    assert not user_cache.exists()  # neither a half-written entry nor a .tmp-* directory, nor the root it made


def test_cli_no_cache_and_cache_dir(trace_copy, tmp_path):
    proc = run_cli("query", trace_copy, "SELECT count(*) AS n FROM kernels", "-f", "csv", "--no-cache")
    assert proc.returncode == 0, proc.stderr
    n = int(proc.stdout.splitlines()[1])
    assert n == sqlite3.connect(trace_copy).execute("SELECT count(*) FROM CUPTI_ACTIVITY_KIND_KERNEL").fetchone()[0]
    _nothing_beside(trace_copy)
    assert not (tmp_path / "xdg").exists()  # --no-cache writes no cache anywhere
    d = tmp_path / "chosen"
    proc = run_cli("query", trace_copy, "SELECT count(*) AS n FROM kernels", "-f", "csv", "--cache-dir", d)
    assert proc.returncode == 0 and int(proc.stdout.splitlines()[1]) == n, proc.stderr
    assert [e.path.parent for e in cache.entries(d)] == [d]
    _nothing_beside(trace_copy)


def _sqlite_to_parquetdir(src: Path, out: Path) -> None:
    """Lay out an export the way `nsys export --type parquetdir` (nsys >= 2024.5) does: one <TABLE>.parquet per
    table, ids unresolved. The local nsys 2022.4 cannot write this format, so the test builds it from a real
    SQLite export."""
    out.mkdir()
    con = sqlite3.connect(src)
    tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    for name in tables:
        if name not in nsys_raw.RAW_COLUMNS:
            continue
        raw = nsys_raw.read_sqlite(src)[name]
        cols = [c for c in raw.column_names if not pa.types.is_null(raw.schema.field(c).type)]
        pq.write_table(raw.select(cols), out / f"{name}.parquet")
    con.close()


def test_parquetdir_matches_sqlite(tmp_path, open_trace):
    src = NSYS_TRACES / "h100_2gpu_fastvideo.sqlite"
    pdir = tmp_path / "export_pq"
    _sqlite_to_parquetdir(src, pdir)
    assert ingest.detect(pdir) == "nsys-parquetdir"
    from_pq = inferscope.open(pdir, cache_dir=tmp_path / "c")
    from_sqlite = open_trace(src)
    for report in ("cuda_gpu_kern_sum", "cuda_api_sum", "nvtx_sum", "cuda_gpu_mem_time_sum"):
        a, b = from_pq.stats(report).rows(), from_sqlite.stats(report).rows()
        assert len(a) == len(b) and a, report
        for ra, rb in zip(a, b):
            assert ra.keys() == rb.keys(), report
            for key, vb in rb.items():  # float sums may differ in the last bits; text must match exactly
                va = ra[key]
                if isinstance(vb, float):
                    assert va == pytest.approx(vb, rel=1e-9), (report, key)
                else:
                    assert va == vb, (report, key)


@needs_nsys
@pytest.mark.skipif(not NSYS_REPS, reason="no .nsys-rep in the shared traces")
def test_arrow_export_matches_sqlite_export(tmp_path):
    """The local nsys writes both formats from the same report: the model tables must be identical."""
    rep = NSYS_REPS[0]
    arrows, db = tmp_path / "x.arrows", tmp_path / "x.sqlite"
    subprocess.run(
        ["nsys", "export", "--type", "arrow", "--output", str(arrows), str(rep)], check=True, capture_output=True
    )
    subprocess.run(
        ["nsys", "export", "--type", "sqlite", "--output", str(db), str(rep)], check=True, capture_output=True
    )
    a = ingest.load(arrows)
    s = ingest.load(db)
    assert a.keys() == s.keys()
    for name in model.TABLE_BY_NAME:
        if name == "trace_meta" or name not in a:  # requests come from request files, not from an export
            continue
        assert a[name].num_rows == s[name].num_rows, name
        key = [c for c in ("start_ns", "ts_ns", "tid", "name", "stack_id", "depth", "pid") if c in a[name].column_names]
        if key and a[name].num_rows:
            assert (
                a[name]
                .sort_by([(k, "ascending") for k in key])
                .equals(s[name].sort_by([(k, "ascending") for k in key]))
            ), name
    assert (
        dict(zip(a["trace_meta"]["key"].to_pylist(), a["trace_meta"]["value"].to_pylist()))["session_start_utc_ns"]
        == dict(zip(s["trace_meta"]["key"].to_pylist(), s["trace_meta"]["value"].to_pylist()))["session_start_utc_ns"]
    )


def test_schema_2_9_and_extra_columns_and_missing_tables(open_trace):
    """nsys 2022.2 (schema 2.9.1): EXPORT_META_DATA, no ENUM tables, user-added `name` columns."""
    t = open_trace(NSYS_TRACES / "a100_saxpy_mpi_nsys2022.2.sqlite")
    assert t.meta["schema_version"] == "2.9.1"
    assert t.meta["source_version"].startswith("2022.2")
    assert t.table("kernels").num_rows == 5
    kinds = t.sql("SELECT DISTINCT copy_kind_name FROM memcpy ORDER BY 1")["copy_kind_name"].tolist()
    assert kinds and all(k in ("HtoD", "DtoH", "DtoD", "HtoH", "PtoP") for k in kinds)
    # no eventClass 67 duplicates and no version suffixes in the model
    assert t.sql("SELECT count(*) AS n FROM api_calls WHERE name LIKE '%\\_v%' ESCAPE '\\'")["n"][0] == 0
    # a table absent from this export (CUDA_GPU_MEMORY_USAGE_EVENTS rows / TARGET_INFO_CUDA_DEVICE) is empty, not an error
    assert t.table("memory_events").num_rows == 0


def test_environment_is_redacted(open_trace):
    t = open_trace(NSYS_TRACES / "h100_2gpu_fastvideo.sqlite")
    env = {k: v for k, v in t.meta.items() if k.startswith("env.")}
    assert env, "the export captured an environment"
    raw = dict(
        sqlite3.connect(NSYS_TRACES / "h100_2gpu_fastvideo.sqlite")
        .execute(
            "SELECT substr(value, 1, instr(value, '=') - 1), value FROM META_DATA_CAPTURE "
            "WHERE name = 'PROCESS_0:ENVIRONMENT_VARIABLE'"
        )
        .fetchall()
    )
    secret_names = [k for k in raw if any(w in k.upper() for w in ("KEY", "SECRET", "TOKEN", "PASSWORD"))]
    assert secret_names, "expected secret-looking variables in this capture"
    for k in secret_names:
        assert env[f"env.{k}"] == "<redacted>"
    assert env["env.PATH"].startswith("/opt/venv/bin")
