"""INFERSCOPE_MEMORY_LIMIT and where DuckDB spills: work past the limit completes by spilling into a private folder
under the cache root (never `.tmp` in the working directory, DuckDB's default for an in-memory database), the
answer is the one computed without a limit, and a bad value is one line with exit 2."""

from __future__ import annotations

import json
import os

import duckdb
import pytest

import inferscope
from inferscope import duckdb_conn
from inferscope.errors import ConfigError
from tests.conftest import SAMPLES, run_cli

SAMPLE = SAMPLES / "h100_2gpu_fastvideo.sqlite"
# A window over 4M rows sorted by a hash: more than the 64 MB cap below holds, so it must spill.
SPILLING_QUERY = (
    "SELECT sum(i * r) AS s FROM (SELECT i, row_number() OVER (ORDER BY hash(i), i) AS r FROM range(4000000) t(i))"
)


def test_work_past_the_limit_spills_under_the_cache_root(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    workdir = tmp_path / "work"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    trace = inferscope.open(SAMPLE, cache_dir=cache)
    expected = trace.sql(SPILLING_QUERY).iloc[0]["s"]  # no limit: DuckDB's default, far above this query

    monkeypatch.setenv(duckdb_conn.MEMORY_ENV, "64MB")
    capped = inferscope.open(SAMPLE, cache_dir=cache)
    con = capped.engine.raw
    reference = duckdb.connect()
    reference.execute("SET memory_limit = '64MB'")
    limit = "SELECT current_setting('memory_limit')"
    assert con.execute(limit).fetchall() == reference.execute(limit).fetchall()
    folder = con.execute("SELECT current_setting('temp_directory')").fetchall()[0][0]
    assert os.path.dirname(folder) == str(cache) and os.path.basename(folder).startswith(duckdb_conn.SPILL_PREFIX)
    assert capped.sql(SPILLING_QUERY).iloc[0]["s"] == expected
    spilled = os.path.isdir(folder)  # DuckDB made it for the spill; it stays until the connection closes
    assert spilled, "the capped query finished without spilling: raise the row count"
    con.close()
    assert not os.path.exists(folder)
    assert sorted(os.listdir(workdir)) == []


def test_a_limit_leaves_the_analysis_unchanged(tmp_path):
    plain = run_cli("analyze", SAMPLE, "-f", "json", "--cache-dir", tmp_path / "c1", cwd=tmp_path)
    capped = run_cli(
        "analyze",
        SAMPLE,
        "-f",
        "json",
        "--cache-dir",
        tmp_path / "c2",
        cwd=tmp_path,
        env={duckdb_conn.MEMORY_ENV: "256MB"},
    )
    assert plain.returncode == 0 and capped.returncode == 0, capped.stderr
    a, b = json.loads(plain.stdout), json.loads(capped.stdout)
    assert a["findings"] == b["findings"] and a["metrics"] == b["metrics"]
    assert not (tmp_path / ".tmp").exists()


def test_a_cap_too_small_for_the_trace_is_one_line_and_exit_2(tmp_path):
    """20 MB holds none of the analysis' working set: DuckDB's out-of-memory error becomes what the user can
    change (the cap), not an internal error asking for a bug report."""
    proc = run_cli(
        "analyze",
        SAMPLE,
        "-f",
        "json",
        "--cache-dir",
        tmp_path / "c",
        cwd=tmp_path,
        env={duckdb_conn.MEMORY_ENV: "20MB"},
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "ran out of memory" in lines[0], proc.stderr
    assert f"raise {duckdb_conn.MEMORY_ENV} (now 20MB)" in lines[0] and "Traceback" not in proc.stderr
    assert proc.stdout == ""  # no half-written JSON


@pytest.mark.parametrize("value", ["lots", "0GB", "150%", "-1GB", "4 gigabytes"])
def test_a_bad_limit_is_one_line_and_exit_2(tmp_path, monkeypatch, value):
    monkeypatch.setenv(duckdb_conn.MEMORY_ENV, value)
    with pytest.raises(ConfigError, match=duckdb_conn.MEMORY_ENV):
        duckdb_conn.memory_limit()
    proc = run_cli("query", SAMPLE, "SELECT 1 AS x", "--cache-dir", tmp_path / "c")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and duckdb_conn.MEMORY_ENV in lines[0] and "Traceback" not in proc.stderr


def test_a_share_of_memory_becomes_a_size():
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    assert duckdb_conn._share_of_memory(50) == f"{int(total * 0.5)}B"


def test_without_the_variable_the_cap_is_512mb_per_thread_and_at_least_1gb(tmp_path, monkeypatch):
    """Bounded by design: DuckDB's own default (80 % of physical memory) let a warm 1M-kernel analysis keep 3.3 GB
    of cached pages; the default cap keeps the same answer in about 1.2 GB."""
    monkeypatch.delenv(duckdb_conn.MEMORY_ENV, raising=False)
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    assert duckdb_conn.default_memory_limit(1) == f"{min(1 << 30, int(total * 0.8))}B"
    assert duckdb_conn.default_memory_limit(8) == f"{min(4 << 30, int(total * 0.8))}B"
    assert duckdb_conn.default_memory_limit(10_000) == f"{int(total * 0.8)}B"  # never above DuckDB's own default
    con = duckdb_conn.connect(tmp_path)
    threads = con.execute("SELECT current_setting('threads')").fetchone()[0]
    reference = duckdb.connect()
    reference.execute(f"SET memory_limit = '{duckdb_conn.default_memory_limit(threads)}'")
    limit = "SELECT current_setting('memory_limit')"
    assert con.execute(limit).fetchall() == reference.execute(limit).fetchall()
    con.close()
