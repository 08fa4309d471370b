"""Writing a cache entry while the conversion runs: the Parquet writer thread (engine/table_writer.py) and the
content digest hashed beside the conversion (engine/cache_entry.py)."""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from inferscope import model
from inferscope.engine import cache
from inferscope.engine.table_writer import write_tables
from inferscope.ingest import iter_tables, load

SAMPLE = Path(__file__).resolve().parent.parent / "sample_traces" / "h100_2gpu_fastvideo.sqlite"


@pytest.fixture(scope="module")
def tables() -> dict[str, pa.Table]:
    return load(SAMPLE)


def _threads(prefix: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(prefix)]


def _as_stream(table: pa.Table, rows: int) -> pa.RecordBatchReader:
    return pa.RecordBatchReader.from_batches(table.schema, table.to_batches(max_chunksize=rows))


def test_tables_and_streams_read_back_as_handed_over(tmp_path, tables):
    """Each table, whole or streamed in batches, reads back equal; the tables not handed over are written empty."""
    handed = {name: t for name, t in tables.items() if t.num_rows}
    assert len(handed) >= 4 and handed["kernels"].num_rows > 100 and handed["nvtx_ranges"].num_rows > 37
    streamed = {"nvtx_ranges", "kernels"}

    def source():
        for name, t in handed.items():
            yield name, _as_stream(t, 37) if name in streamed else t

    rows = write_tables(tmp_path, source())
    assert set(rows) == set(model.TABLE_BY_NAME)
    for name in model.TABLE_BY_NAME:
        back = model.plain(pq.read_table(tmp_path / f"{name}.parquet"))
        want = handed.get(name, model.empty_table(name))
        assert rows[name] == want.num_rows == back.num_rows
        assert back.equals(model.plain(model.conform(name, want))), name
    assert pq.ParquetFile(tmp_path / "nvtx_ranges.parquet").metadata.num_row_groups > 1  # one per batch
    assert not _threads("inferscope-parquet")


def test_a_write_error_stops_the_conversion_at_the_next_hand_over(tmp_path, tables, monkeypatch):
    real = pq.write_table
    asked = []

    def failing(table, where, **kw):
        if Path(where).name == "memcpy.parquet":
            raise OSError("disk full")
        return real(table, where, **kw)

    monkeypatch.setattr(pq, "write_table", failing)

    def source():
        for name in model.TABLE_BY_NAME:
            asked.append(name)
            yield name, tables[name]

    with pytest.raises(OSError, match="disk full"):
        write_tables(tmp_path, source())
    order = list(model.TABLE_BY_NAME)
    # at most the table after the failed one was built before the error was seen, none beyond it
    assert len(asked) <= order.index("memcpy") + 2
    assert not _threads("inferscope-parquet")


def test_a_conversion_error_waits_for_the_write_under_way(tmp_path, tables):
    """The entry's temporary folder is removed after an error; no write may still be going on inside it."""

    def source():
        yield "nvtx_ranges", tables["nvtx_ranges"]
        raise ValueError("corrupt export")

    with pytest.raises(ValueError, match="corrupt export"):
        write_tables(tmp_path, source())
    assert not _threads("inferscope-parquet")
    assert pq.read_table(tmp_path / "nvtx_ranges.parquet").num_rows == tables["nvtx_ranges"].num_rows


def test_an_error_inside_a_stream_closes_its_file_and_is_raised(tmp_path, tables):
    t = tables["nvtx_ranges"]

    def batches():
        yield from t.to_batches(max_chunksize=50)[:2]
        raise ValueError("bad batch")

    def source():
        yield "nvtx_ranges", pa.RecordBatchReader.from_batches(t.schema, batches())

    with pytest.raises(ValueError, match="bad batch"):
        write_tables(tmp_path, source())
    assert not _threads("inferscope-parquet")


def test_entry_digest_is_the_sha256_of_the_trace(tmp_path):
    entry = cache.store(SAMPLE, tmp_path, iter_tables(SAMPLE))
    manifest = json.loads((entry / cache.MANIFEST).read_text())
    assert (
        manifest["content_sha256"]
        == hashlib.sha256(json.dumps(["", SAMPLE.stat().st_size]).encode() + SAMPLE.read_bytes()).hexdigest()
    )
    assert entry.name.endswith(manifest["content_sha256"][:16])
    assert not _threads("inferscope-digest")


def test_failed_conversion_stops_the_digest_and_leaves_nothing(tmp_path):
    def source():
        yield from list(iter_tables(SAMPLE))[:2]
        raise ValueError("corrupt export")

    with pytest.raises(ValueError, match="corrupt export"):
        cache.store(SAMPLE, tmp_path / "cache", source())
    assert not _threads("inferscope-digest")
    assert not (tmp_path / "cache").exists()
