"""Bad input gets one clear line on stderr, exit code 2, no traceback, and no cache left behind."""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from .conftest import NSYS_REPS, NSYS_TRACES, needs_nsys, needs_shared, run_cli


def _assert_one_line_error(proc, *fragments: str):
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert lines[0].startswith("inferscope: error:")
    for f in fragments:
        assert f.lower() in lines[0].lower(), (f, lines[0])


def _no_cache_beside(path: Path):
    leftovers = [p for p in path.parent.iterdir() if p.name.endswith(".inferscope") or p.name.startswith(".tmp-")]
    assert leftovers == [], leftovers


def test_missing_path(tmp_path):
    proc = run_cli("stats", tmp_path / "nope.sqlite")
    _assert_one_line_error(proc, "no such file")


def test_empty_file(tmp_path):
    f = tmp_path / "empty.sqlite"
    f.touch()
    _assert_one_line_error(run_cli("stats", f), "empty")
    _no_cache_beside(f)


def test_directory_without_trace(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    _assert_one_line_error(run_cli("stats", tmp_path), "directory holds no trace")


def test_not_a_trace(tmp_path):
    f = tmp_path / "picture.png"
    f.write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(256))
    _assert_one_line_error(run_cli("stats", f), "not a trace")
    _no_cache_beside(f)


def test_sqlite_that_is_not_nsys(tmp_path):
    f = tmp_path / "other.sqlite"
    con = sqlite3.connect(f)
    con.execute("CREATE TABLE people(name TEXT)")
    con.commit()
    con.close()
    _assert_one_line_error(run_cli("stats", f), "without Nsight Systems tables")
    _no_cache_beside(f)


@needs_shared
def test_truncated_sqlite(tmp_path):
    src = NSYS_TRACES / "h100_2gpu_fastvideo.sqlite"
    f = tmp_path / "truncated.sqlite"
    data = src.read_bytes()
    f.write_bytes(data[: len(data) // 3])
    _assert_one_line_error(run_cli("stats", f), str(f.name))
    _no_cache_beside(f)


@needs_shared
def test_corrupt_sqlite(tmp_path):
    src = NSYS_TRACES / "a100x4_cloverleaf_nsys2024.5.sqlite"
    f = tmp_path / "corrupt.sqlite"
    data = bytearray(src.read_bytes())
    # keep the header (so it is recognised as SQLite) and overwrite the schema and data pages
    data[100:] = os.urandom(len(data) - 100)
    f.write_bytes(bytes(data))
    _assert_one_line_error(run_cli("stats", f), "sqlite")
    _no_cache_beside(f)


@needs_shared
@pytest.mark.skipif(not NSYS_REPS, reason="no .nsys-rep in the shared traces")
def test_nsys_rep_without_nsys(tmp_path):
    rep = tmp_path / NSYS_REPS[0].name
    shutil.copy(NSYS_REPS[0], rep)
    env = {"PATH": "/nonexistent", "INFERSCOPE_NSYS": ""}
    proc = run_cli("stats", rep, env=env)
    _assert_one_line_error(proc, "needs the nsys cli", "nsys export --type sqlite")
    _no_cache_beside(rep)


@needs_shared
@needs_nsys
@pytest.mark.skipif(not NSYS_REPS, reason="no .nsys-rep in the shared traces")
def test_nsys_rep_from_newer_nsys(tmp_path):
    """No report from a newer nsys is available here, so this one is the real 2022.4 report with its container
    version bumped (a newer container format, as a newer nsys writes); the real local nsys refuses it."""
    data = NSYS_REPS[0].read_bytes()
    assert b"Profiler Report 1." in data[:64]
    rep = tmp_path / "newer.nsys-rep"
    rep.write_bytes(data.replace(b"Profiler Report 1.", b"Profiler Report 2.", 1))
    proc = run_cli("stats", rep)
    _assert_one_line_error(proc, "local nsys is 2022.4", "install nsys >=")
    _no_cache_beside(rep)


def test_unknown_report(tmp_path):
    if not (NSYS_TRACES / "nsys_ai_mock.sqlite").exists():
        pytest.skip("shared traces not found")
    proc = run_cli("stats", NSYS_TRACES / "nsys_ai_mock.sqlite", "-r", "gpukernsumm", "--cache-dir", tmp_path)
    _assert_one_line_error(proc, "unknown report", "cuda_gpu_kern_sum")


@needs_shared
def test_bad_sql(tmp_path):
    proc = run_cli("query", NSYS_TRACES / "nsys_ai_mock.sqlite", "SELECT nope FROM kernels", "--cache-dir", tmp_path)
    _assert_one_line_error(proc, "sql error")


@needs_shared
def test_text_where_timestamps_belong(tmp_path):
    """An edited export with text in NVTX_EVENTS.start: one line naming the table, exit 2, no cache."""
    from .synth import copy_export

    path, con = copy_export(NSYS_TRACES / "h100_2gpu_fastvideo.sqlite", tmp_path, "text_start")
    with con:
        con.execute("UPDATE NVTX_EVENTS SET start = 'soon' WHERE rowid = 20")
    con.close()
    _assert_one_line_error(run_cli("stats", path), "NVTX_EVENTS", "edited or corrupt")
    _no_cache_beside(path)


@needs_shared
def test_invalid_utf8_and_threadless_ranges_still_convert(tmp_path):
    """A profiled program can give NVTX any bytes, which SQLite keeps as TEXT (or BLOB) unchecked, and an edited
    export can lose a thread id. `nsys stats` stops at such text ("Could not decode to UTF-8"); InferScope
    shows it with U+FFFD, and a range without a thread gets depth 0 on a thread of its own, without warnings."""
    from .synth import copy_export

    path, con = copy_export(NSYS_TRACES / "h100_2gpu_fastvideo.sqlite", tmp_path, "bytes")
    with con:
        con.execute("UPDATE NVTX_EVENTS SET text = CAST(X'61ff62' AS TEXT) WHERE rowid = 10")
        con.execute("UPDATE NVTX_EVENTS SET text = X'00ff41' WHERE rowid = 11")
        kernel_name = con.execute("SELECT demangledName FROM CUPTI_ACTIVITY_KIND_KERNEL LIMIT 1").fetchone()[0]
        con.execute("UPDATE StringIds SET value = CAST(X'6bff6c' AS TEXT) WHERE id = ?", (kernel_name,))
        con.execute(
            "UPDATE NVTX_EVENTS SET globalTid = NULL WHERE rowid = (SELECT min(rowid) FROM NVTX_EVENTS WHERE eventType = 59)"
        )
    con.close()
    proc = run_cli("stats", path, "-r", "nvtx_sum", "-r", "cuda_gpu_kern_sum", "-f", "csv", "--no-cache")
    assert proc.returncode == 0, proc.stderr
    assert "Warning" not in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert "a\ufffdb" in proc.stdout and "\ufffdA" in proc.stdout and "k\ufffdl" in proc.stdout


@needs_nsys
@needs_shared
@pytest.mark.parametrize("keep", [0.5, 0.999], ids=["half", "last-bytes"])
def test_truncated_arrow_export(tmp_path, keep):
    full = tmp_path / "full.arrows"
    import subprocess

    subprocess.run(
        ["nsys", "export", "--type", "arrow", "--output", str(full), str(NSYS_REPS[0])], check=True, capture_output=True
    )
    data = full.read_bytes()
    cut = tmp_path / "cut.arrows"
    cut.write_bytes(data[: int(len(data) * keep)])
    _assert_one_line_error(run_cli("stats", cut), "truncated nsys Arrow export")
    _no_cache_beside(cut)


def test_arrow_magic_without_streams(tmp_path):
    f = tmp_path / "junk.arrows"
    f.write_bytes(b"\xff\xff\xff\xff" + os.urandom(64))
    _assert_one_line_error(run_cli("stats", f), "not a readable nsys Arrow export")
    _no_cache_beside(f)
