"""NVTX ranges of large exports converted as a stream (inferscope/ingest/nvtx_stream.py) give the same model as
the whole-table conversion: the nesting over sorted batches against the direct definition and the whole-table
nesting, then real exports (and an edited one with unterminated, cross-thread and impossible ranges) converted
both ways, and the analysis of the bundled sample both ways. Small exports are sent down the streamed path by
lowering its threshold, with batches of a few hundred rows so that every carry between batches is exercised."""

from __future__ import annotations

import json
import random
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

import inferscope
from inferscope.ingest import nsys_files, nsys_raw, nvtx_stream
from inferscope.ingest.nesting import nest, nest_sorted
from tests.conftest import NSYS_TRACES, SAMPLES, TRACES, needs_shared
from tests.test_nesting import _random_forest, _reference

SAMPLE = SAMPLES / "h100_2gpu_fastvideo.sqlite"


def _preorder(table: pa.Table) -> pa.Table:
    """The order DuckDB hands the streamed ranges in: PushPop first, by thread, start, longer first, range id."""
    style = np.array([0 if s == "PushPop" else 1 for s in table.column("style").to_pylist()])
    keys = [table.column(c).to_numpy() for c in ("range_id", "end_ns", "start_ns", "tid", "pid")]
    keys[1] = -keys[1]
    return table.take(np.lexsort((*keys, style)))


def _in_batches(table: pa.Table, rng: random.Random) -> list[pa.Table]:
    out, at = [], 0
    while at < table.num_rows:
        size = rng.choice([1, 2, 3, 7, 40, 200])
        out.append(table.slice(at, size))
        at += size
    return out


def test_sorted_batches_match_the_definition():
    rng = random.Random(11)
    for _ in range(20):
        rows = []
        for pid, tid in ((10, 1), (10, 2), (11, 1)):
            spans = []
            _random_forest(rng, 0, 400, 0, spans)
            rows += [{"pid": pid, "tid": tid, "start_ns": s, "end_ns": e} for s, e in spans]
        rng.shuffle(rows)
        for i, r in enumerate(rows):
            r["range_id"] = i + 1
            r["style"] = "PushPop"
        depth, parent = _reference(rows)
        table = _preorder(pa.Table.from_pylist(rows))
        got = pa.concat_tables(list(nest_sorted(_in_batches(table, rng))))
        assert got.column("depth").to_pylist() == [depth[i] for i in got.column("range_id").to_pylist()]
        assert got.column("parent_id").to_pylist() == [parent[i] for i in got.column("range_id").to_pylist()]


def test_sorted_batches_equal_the_whole_nesting_also_where_ranges_overlap():
    """Improperly nested ranges (overlapping, not enclosing), StartEnd ranges and NULL threads: the carried
    ranges must give every depth and parent the whole-table nesting gives."""
    rng = np.random.default_rng(5)
    for trial in range(300):
        n = int(rng.integers(1, 400))
        start = rng.integers(0, 300, n)
        table = pa.table(
            {
                "start_ns": start,
                "end_ns": start + rng.choice([0, 0, 1, 3, 10, 40, 150], n),
                "pid": pa.array(rng.integers(1, 3, n), mask=rng.random(n) < 0.05),
                "tid": pa.array(rng.integers(1, 3, n)),
                "range_id": np.arange(1, n + 1),
                "style": pa.array(rng.choice(["PushPop", "PushPop", "PushPop", "StartEnd"], n)),
            }
        )
        # NULL pid sorts last in DuckDB and its rows form one thread, as in nest (NULL -> -1)
        filled = table.set_column(
            2,
            "pid",
            pa.array(np.where(table.column("pid").is_null(), 1 << 40, 0) + table.column("pid").fill_null(0).to_numpy()),
        )
        order = _preorder(filled.append_column("_i", pa.array(np.arange(n)))).column("_i").to_numpy()
        want = nest(table).take(order)
        got = pa.concat_tables(list(nest_sorted(_in_batches(table.take(order), random.Random(trial)))))
        assert got.column("depth").to_pylist() == want.column("depth").to_pylist(), trial
        assert got.column("parent_id").to_pylist() == want.column("parent_id").to_pylist(), trial


def _convert(path: Path, fmt: str) -> dict[str, pa.Table]:
    out = {}
    for name, table in nsys_files.iter_nsys(path, fmt, lambda step: None):
        out[name] = nsys_files.whole(table)
    return out


def _streamed(monkeypatch, batch_rows: int = 311) -> None:
    monkeypatch.setattr(nvtx_stream, "STREAM_ROWS", 0)
    monkeypatch.setattr(nvtx_stream, "SORTED_BATCH_ROWS", batch_rows)
    monkeypatch.setattr(nsys_raw, "BATCH_ROWS", batch_rows + 2)


def _rows(table: pa.Table) -> list[str]:
    return sorted(map(repr, table.to_pylist()))


def _assert_same_model(whole: dict[str, pa.Table], streamed: dict[str, pa.Table]) -> None:
    assert whole.keys() == streamed.keys()
    for name in whole:
        if name == "nvtx_ranges":  # stored in another order: equal row for row by range id
            assert whole[name].sort_by("range_id").to_pylist() == streamed[name].sort_by("range_id").to_pylist()
        else:
            assert _rows(whole[name]) == _rows(streamed[name]), name


def _edited_sample(tmp_path: Path) -> tuple[Path, dict]:
    """The sample with ranges a profiler leaves: unterminated (end NULL), ended on another thread, ending before
    they start, and ending at INT64_MAX."""
    path = tmp_path / "edited.sqlite"
    shutil.copy(SAMPLE, path)
    con = sqlite3.connect(path)
    ids = [r[0] for r in con.execute("SELECT rowid FROM NVTX_EVENTS WHERE eventType = 59 ORDER BY rowid")]
    con.execute(f'UPDATE NVTX_EVENTS SET "end" = NULL WHERE rowid IN ({ids[5]}, {ids[900]})')
    con.execute(f"UPDATE NVTX_EVENTS SET endGlobalTid = globalTid + 1 WHERE rowid = {ids[40]}")
    con.execute(f'UPDATE NVTX_EVENTS SET "end" = start - 5 WHERE rowid IN ({ids[60]}, {ids[61]})')
    con.execute(f'UPDATE NVTX_EVENTS SET "end" = 9223372036854775807 WHERE rowid = {ids[70]}')
    con.commit()
    con.close()
    return path, {"unterminated": 2, "end_before_start": 2, "huge_duration": 1}


def test_streamed_conversion_equals_the_whole_one_on_the_sample(monkeypatch):
    whole = _convert(SAMPLE, "nsys-sqlite")
    _streamed(monkeypatch)
    streamed = _convert(SAMPLE, "nsys-sqlite")
    assert whole["nvtx_ranges"].num_rows > 10_000  # many batches, carries across most of them
    _assert_same_model(whole, streamed)


def test_streamed_conversion_takes_the_stream(monkeypatch):
    """Not vacuous: past the threshold the ranges come as a stream, and the staged file is gone afterwards."""
    _streamed(monkeypatch)
    staged = []
    real = nvtx_stream.StagedNvtx.__init__

    def spy(self, *args, **kwargs):
        real(self, *args, **kwargs)
        staged.append(Path(self.path))

    monkeypatch.setattr(nvtx_stream.StagedNvtx, "__init__", spy)
    kinds = {name: type(t) for name, t in nsys_files.iter_nsys(SAMPLE, "nsys-sqlite", lambda step: None)}
    assert kinds["nvtx_ranges"] is pa.RecordBatchReader
    assert len(staged) == 1 and not staged[0].exists()


def test_streamed_conversion_of_odd_ranges(monkeypatch, tmp_path):
    path, expected = _edited_sample(tmp_path)
    whole = _convert(path, "nsys-sqlite")
    ranges = whole["nvtx_ranges"]
    assert sum(ranges.column("unterminated").to_pylist()) == expected["unterminated"]
    assert sum(ranges.column("cross_thread").to_pylist()) == 1
    meta = dict(zip(whole["trace_meta"].column("key").to_pylist(), whole["trace_meta"].column("value").to_pylist()))
    assert meta["quality.nvtx_ranges.end_before_start"] == str(expected["end_before_start"])
    assert meta["quality.nvtx_ranges.huge_duration"] == str(expected["huge_duration"])
    _streamed(monkeypatch)
    _assert_same_model(whole, _convert(path, "nsys-sqlite"))


@needs_shared
@pytest.mark.parametrize(
    "path,fmt",
    [
        (NSYS_TRACES / "h200_nvfuser_matmul_nsys2024.6.sqlite", "nsys-sqlite"),
        (NSYS_TRACES / "t4_cupy_power_iteration_nsys2025.3.sqlite", "nsys-sqlite"),
        (NSYS_TRACES / "a100_saxpy_mpi_nsys2022.2.sqlite", "nsys-sqlite"),
        (TRACES / "h200" / "h200_nsys_llm_serving_nsys2025.3.sqlite.gz", "nsys-sqlite-gz"),
    ],
    ids=lambda v: v.name if isinstance(v, Path) else v,
)
def test_streamed_conversion_equals_the_whole_one_on_shared_exports(monkeypatch, path, fmt):
    whole = _convert(path, fmt)
    _streamed(monkeypatch, batch_rows=4099 if whole["nvtx_ranges"].num_rows > 100_000 else 97)
    _assert_same_model(whole, _convert(path, fmt))


def test_parquetdir_counts_rows_from_the_footer(tmp_path):
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"start": list(range(12))}), tmp_path / "NVTX_EVENTS.parquet")
    assert nsys_raw.parquet_table_rows(tmp_path, "NVTX_EVENTS") == 12
    assert nsys_raw.parquet_table_rows(tmp_path, "OSRT_API") == 0


def test_streamed_analysis_equals_the_whole_one(monkeypatch, tmp_path):
    """What a user sees: the analysis of the sample, converted either way, is the same document."""

    def analysis(cache: Path) -> dict:
        doc = json.loads(inferscope.open(SAMPLE, cache_dir=cache).analyze().to_json())
        doc.pop("trace", None)
        return doc

    whole = analysis(tmp_path / "whole")
    _streamed(monkeypatch, batch_rows=1000)
    assert analysis(tmp_path / "streamed") == whole
