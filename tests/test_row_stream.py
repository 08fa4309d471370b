"""Kernels and runtime calls converted batch by batch (ingest/nsys.py, ROW_STREAMED) past STREAM_ROWS raw rows: the
model must be row for row what the whole-table conversion gives, memory events' calling threads (joined to the
runtime table that streamed by) and the counts of impossible rows included."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pyarrow as pa
import pytest

from inferscope.ingest import nsys, nsys_files, nsys_raw
from tests.conftest import NSYS_TRACES, TRACES, needs_shared
from tests.test_nvtx_stream import SAMPLE, _assert_same_model, _convert


def _row_streamed(monkeypatch, batch_rows: int = 997) -> None:
    monkeypatch.setattr(nsys, "STREAM_ROWS", 0)
    monkeypatch.setattr(nsys_raw, "BATCH_ROWS", batch_rows)


def test_kernels_and_calls_come_as_streams_past_the_threshold(monkeypatch):
    kinds = {name: type(t) for name, t in nsys_files.iter_nsys(SAMPLE, "nsys-sqlite", lambda step: None)}
    assert kinds["kernels"] is pa.Table and kinds["api_calls"] is pa.Table
    _row_streamed(monkeypatch)
    kinds = {name: type(t) for name, t in nsys_files.iter_nsys(SAMPLE, "nsys-sqlite", lambda step: None)}
    assert kinds["kernels"] is pa.RecordBatchReader and kinds["api_calls"] is pa.RecordBatchReader


def test_the_sample_converts_row_for_row_as_the_whole_tables_do(monkeypatch):
    whole = _convert(SAMPLE, "nsys-sqlite")
    assert whole["kernels"].num_rows > 3 * 997  # several batches
    _row_streamed(monkeypatch)
    _assert_same_model(whole, _convert(SAMPLE, "nsys-sqlite"))


def test_impossible_times_are_counted_the_same_way(monkeypatch, tmp_path):
    path = tmp_path / "edited.sqlite"
    shutil.copy(SAMPLE, path)
    con = sqlite3.connect(path)
    con.execute('UPDATE CUPTI_ACTIVITY_KIND_KERNEL SET "end" = start - 5 WHERE rowid % 500 = 7')
    con.execute('UPDATE CUPTI_ACTIVITY_KIND_RUNTIME SET "end" = 9223372036854775807 WHERE rowid % 700 = 3')
    con.commit()
    con.close()
    whole = _convert(path, "nsys-sqlite")
    meta = dict(zip(whole["trace_meta"].column("key").to_pylist(), whole["trace_meta"].column("value").to_pylist()))
    assert int(meta["quality.kernels.end_before_start"]) > 1 and int(meta["quality.api_calls.huge_duration"]) > 1
    _row_streamed(monkeypatch)
    _assert_same_model(whole, _convert(path, "nsys-sqlite"))


@needs_shared
@pytest.mark.parametrize(
    "path,fmt",
    [
        # 4,572 memory events, whose calling threads come from the runtime calls kept as they stream by
        (TRACES / "h200" / "h200_nsys_llm_serving_nsys2025.3.sqlite.gz", "nsys-sqlite-gz"),
        (NSYS_TRACES / "a100x4_cloverleaf_nsys2024.5.sqlite", "nsys-sqlite"),
        (NSYS_TRACES / "a100_saxpy_mpi_nsys2022.2.sqlite", "nsys-sqlite"),
    ],
    ids=lambda v: v.name if isinstance(v, Path) else v,
)
def test_shared_exports_convert_row_for_row_as_the_whole_tables_do(monkeypatch, path, fmt):
    whole = _convert(path, fmt)
    _row_streamed(monkeypatch, 4099 if whole["api_calls"].num_rows > 100_000 else 97)
    streamed = _convert(path, fmt)
    _assert_same_model(whole, streamed)
    if "serving" in path.name:
        events = streamed["memory_events"]
        assert events.num_rows > 4000 and events.num_rows - events.column("tid").null_count > 0
