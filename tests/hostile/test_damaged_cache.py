"""Issue 17 item 7: a damaged cache entry (truncated or missing Parquet file, unreadable manifest) used to fail
every later run until it was deleted by hand. Each test damages the real entry of the sample export, runs the
real `stats` command and expects the same numbers, one warning line and a rebuilt, verifiable entry."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import time
from pathlib import Path

from inferscope.engine import cache
from tests.conftest import SAMPLES, run_cli

H100 = SAMPLES / "h100_2gpu_fastvideo.sqlite"


def _stats(cache_dir: Path):
    r = run_cli("stats", H100, "-r", "cuda_gpu_kern_sum", "-f", "csv", "--cache-dir", cache_dir)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    return list(csv.DictReader(io.StringIO(r.stdout))), r.stderr


def _same(a: list[dict], b: list[dict]) -> bool:
    """Equal rows, floats to 1e-9 relative (DuckDB's parallel stddev may differ in the last digit)."""
    if len(a) != len(b):
        return False
    for x, y in zip(a, b):
        for k in x:
            try:
                if not math.isclose(float(x[k]), float(y[k]), rel_tol=1e-9):
                    return False
            except ValueError:
                if x[k] != y[k]:
                    return False
    return True


def _entry(cache_dir: Path) -> Path:
    (entry,) = [e.path for e in cache.entries(cache_dir)]
    return entry


def _check_rebuilt(cache_dir: Path, reference: list[dict], what: str) -> None:
    rows, err = _stats(cache_dir)
    assert _same(rows, reference)
    warnings = [line for line in err.splitlines() if "damaged" in line]
    assert len(warnings) == 1 and what in warnings[0], err
    assert cache.damage(_entry(cache_dir)) is None
    rows, err = _stats(cache_dir)  # the rebuilt entry serves the next run without a word
    assert _same(rows, reference) and "damaged" not in err


def test_truncated_parquet_is_rebuilt(tmp_path):
    reference, _ = _stats(tmp_path)
    f = _entry(tmp_path) / "kernels.parquet"
    with f.open("r+b") as fh:
        fh.truncate(f.stat().st_size // 2)
    assert cache.damage(f.parent) is not None
    _check_rebuilt(tmp_path, reference, "kernels.parquet")


def test_same_size_garbage_footer_is_rebuilt(tmp_path):
    """Damage that keeps the size (a bad sector, a partial sync) is caught by the footer, not the size."""
    reference, _ = _stats(tmp_path)
    f = _entry(tmp_path) / "api_calls.parquet"
    data = bytearray(f.read_bytes())
    data[-200:-8] = os.urandom(192)
    f.write_bytes(bytes(data))
    _check_rebuilt(tmp_path, reference, "api_calls.parquet")


def test_missing_parquet_is_rebuilt(tmp_path):
    reference, _ = _stats(tmp_path)
    (_entry(tmp_path) / "nvtx_ranges.parquet").unlink()
    _check_rebuilt(tmp_path, reference, "nvtx_ranges.parquet is missing")


def test_corrupt_manifest_is_rebuilt(tmp_path):
    reference, _ = _stats(tmp_path)
    entry = _entry(tmp_path)
    (entry / cache.MANIFEST).write_text('{"key": "trunc')
    assert cache.entries(tmp_path) == []
    _check_rebuilt(tmp_path, reference, "manifest is unreadable")
    assert _entry(tmp_path) == entry  # rebuilt in place, not beside a dead copy


def test_manifest_records_footer_facts(tmp_path):
    """What the check compares: per table, the footer's row count and columns and the file's size."""
    _stats(tmp_path)
    entry = _entry(tmp_path)
    manifest = json.loads((entry / cache.MANIFEST).read_text())
    import pyarrow.parquet as pq

    for name, facts in manifest["tables"].items():
        meta = pq.read_metadata(entry / f"{name}.parquet")
        assert facts["rows"] == meta.num_rows == manifest["rows"][name]
        assert [c for c, _ in facts["columns"]] == meta.schema.names
        assert facts["bytes"] == (entry / f"{name}.parquet").stat().st_size


def test_stale_tmp_folders_are_cleaned(tmp_path):
    """Checked, not new: a `.tmp-*` folder left by a killed conversion goes once it is an hour old."""
    old = tmp_path / ".tmp-killed-run"
    old.mkdir()
    (old / "kernels.parquet").write_bytes(b"PAR1 half written")
    past = time.time() - 2 * cache.STALE_TMP_SECONDS
    os.utime(old / "kernels.parquet", (past, past))
    os.utime(old, (past, past))
    fresh = tmp_path / ".tmp-running"
    fresh.mkdir()
    _stats(tmp_path)
    assert not old.exists() and fresh.exists()
