"""GPU_METRICS is converted in two streaming passes (issue 24, scale: ingest/gpu_metric_series.py), never loaded
whole. The samples, their ends and running integrals must not depend on how the raw rows arrive: batches of any
size (a series' last sample waits for the next batch), an export stored out of time order (an edited copy of the
real H200 export with GPU_METRICS rewritten in reverse, ../shared/traces/PROVENANCE.md), or the Arrow and Parquet
readers' own batching. Every expectation is computed here from the raw export with sqlite3 and plain Python."""

from __future__ import annotations

import sqlite3
import statistics
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import inferscope
from inferscope.ingest import gpu_metric_series, nsys_raw
from inferscope.ingest.gpu_metric_names import stable_id
from tests import gpu_metric_edits
from tests.conftest import NSYS_TRACES, needs_shared

pytestmark = needs_shared

COLUMNS = ["ts_ns", "end_ns", "value", "sample_index", "cum_value_ns", "cum_covered_ns"]


def expected_samples(path: Path) -> dict[str, list[tuple]]:
    """metric id -> its rows (ts, end, value, index, integral of value dt before ts, covered ns before ts), from the
    raw file: a sample holds until the next one, or for one period (the median spacing) after the last one or
    where the next is over four periods away; a `[MHz]` series above 100 GHz is read as Hz."""
    con = sqlite3.connect(path)
    names = dict(con.execute("SELECT metricId, metricName FROM TARGET_INFO_GPU_METRICS"))
    points: dict[int, list[tuple[int, float]]] = {}
    for metric, ts, value in con.execute("SELECT metricId, timestamp, value FROM GPU_METRICS"):
        points.setdefault(metric, []).append((ts, float(value)))
    con.close()
    out = {}
    for metric, pts in points.items():
        pts.sort()
        ts = [t for t, _ in pts]
        values = [v for _, v in pts]
        metric_id, unit = stable_id(names[metric])
        if unit == "MHz" and max(values) > 100_000:
            values = [v / 1e6 for v in values]
        period = int(statistics.median(b - a for a, b in zip(ts, ts[1:])))
        rows, cum_value, cum_covered = [], 0.0, 0
        for i, (t, v) in enumerate(zip(ts, values)):
            nxt = ts[i + 1] if i + 1 < len(ts) else None
            end = t + period if nxt is None or nxt - t > 4 * period else nxt
            rows.append((t, end, v, i, cum_value, cum_covered))
            cum_value += v * (end - t)
            cum_covered += end - t
        out[metric_id] = rows
    return out


def model_samples(trace) -> dict[str, list[tuple]]:
    df = trace.sql(f"SELECT metric_id, {', '.join(COLUMNS)} FROM gpu_metrics ORDER BY metric_id, ts_ns")
    return {m: list(g[COLUMNS].itertuples(index=False, name=None)) for m, g in df.groupby("metric_id")}


def assert_same(got: dict[str, list[tuple]], want: dict[str, list[tuple]]) -> None:
    assert sorted(got) == sorted(want)
    for metric, rows in want.items():
        have = got[metric]
        assert len(have) == len(rows), metric
        assert [r[:2] + r[3:4] + r[5:] for r in have] == [r[:2] + r[3:4] + r[5:] for r in rows], metric
        assert [r[2] for r in have] == pytest.approx([r[2] for r in rows], rel=1e-12), metric
        assert [r[4] for r in have] == pytest.approx([r[4] for r in rows], rel=1e-9), metric


@pytest.fixture(scope="module")
def plain(tmp_path_factory) -> Path:
    path, con = gpu_metric_edits.plain_copy(tmp_path_factory.mktemp("gm_stream"), "h200_gpu_metrics")
    con.close()
    return path


@pytest.fixture(scope="module")
def truth(plain) -> dict[str, list[tuple]]:
    return expected_samples(plain)


def test_batches_of_any_size_give_the_same_samples(plain, truth, tmp_path, monkeypatch):
    """777-row reads joined into 5,000-row batches: each of the 11 series crosses over a hundred batch edges."""
    monkeypatch.setattr(nsys_raw, "BATCH_ROWS", 777)
    monkeypatch.setattr(gpu_metric_series, "BATCH_ROWS", 5_000)
    trace = inferscope.open(plain, cache_dir=tmp_path)
    try:
        assert_same(model_samples(trace), truth)
        info = trace.sql("SELECT metric_id, samples, period_ns FROM gpu_metric_info").to_dict("records")
        assert {r["metric_id"]: r["samples"] for r in info} == {m: len(rows) for m, rows in truth.items()}
    finally:
        trace.close()


def test_an_export_out_of_time_order_is_sorted_before_the_samples_are_built(plain, truth, tmp_path):
    edited = tmp_path / "h200_gpu_metrics_reversed_edited.sqlite"
    edited.write_bytes(plain.read_bytes())
    con = sqlite3.connect(edited)
    con.execute("CREATE TABLE reversed AS SELECT * FROM GPU_METRICS ORDER BY timestamp DESC, metricId DESC")
    con.execute("DELETE FROM GPU_METRICS")
    con.execute("INSERT INTO GPU_METRICS SELECT * FROM reversed")
    con.execute("DROP TABLE reversed")
    con.commit()
    first = con.execute("SELECT timestamp FROM GPU_METRICS ORDER BY rowid LIMIT 2").fetchall()
    con.close()
    assert first[0][0] > first[1][0] or first[0][0] == first[1][0]  # really stored newest first
    trace = inferscope.open(edited, cache_dir=tmp_path / "cache")
    try:
        assert_same(model_samples(trace), truth)
    finally:
        trace.close()


def test_gpu_metrics_is_never_read_whole(plain, tmp_path, monkeypatch):
    """The raw table is only ever streamed: a whole read of it would hold every sample at once."""
    whole_reads = []
    real_call = nsys_raw.SqliteReader.__call__

    def spy(self, name):
        whole_reads.append(name)
        return real_call(self, name)

    monkeypatch.setattr(nsys_raw.SqliteReader, "__call__", spy)
    trace = inferscope.open(plain, cache_dir=tmp_path)
    try:
        assert trace.sql("SELECT count(*) AS n FROM gpu_metrics")["n"][0] > 600_000
    finally:
        trace.close()
    assert "CUPTI_ACTIVITY_KIND_KERNEL" in whole_reads  # the spy saw the other tables
    assert "GPU_METRICS" not in whole_reads


def _raw_rows(tables) -> list[tuple]:
    rows = []
    for t in tables:
        rows += list(zip(*(t.column(c).to_pylist() for c in ("timestamp", "typeId", "metricId", "value"))))
    return rows


def test_arrow_and_parquet_exports_stream_the_same_rows_in_stored_order(plain, tmp_path):
    reader = nsys_raw.SqliteReader(plain)
    try:
        whole = reader("GPU_METRICS")
        streamed = list(reader.batches("GPU_METRICS", 100_000))
    finally:
        reader.close()
    assert len(streamed) == 7  # 624,426 rows
    want = _raw_rows([whole])
    assert _raw_rows(streamed) == want

    parquetdir = tmp_path / "export_pqtdir"
    parquetdir.mkdir()
    pq.write_table(whole, parquetdir / "GPU_METRICS.parquet", row_group_size=50_000)
    batches = list(nsys_raw.parquet_table_batches(parquetdir, "GPU_METRICS", 60_000))
    assert len(batches) > 1
    assert _raw_rows(batches) == want

    arrows = tmp_path / "export.arrows"
    schema = whole.schema.with_metadata({"table_name": "GPU_METRICS"})
    with pa.OSFile(str(arrows), "wb") as sink, pa.ipc.new_stream(sink, schema) as writer:
        for batch in whole.combine_chunks().to_batches(max_chunksize=90_000):
            writer.write_batch(batch)
    streams = nsys_raw.ArrowStreamsReader(arrows)
    try:
        batches = list(streams.batches("GPU_METRICS"))
    finally:
        streams.close()
    assert len(batches) == 7
    assert _raw_rows(batches) == want


def test_a_trace_without_metrics_gets_empty_tables(tmp_path):
    trace = inferscope.open(NSYS_TRACES / "h100_2gpu_fastvideo.sqlite", cache_dir=tmp_path)
    try:
        assert trace.sql("SELECT count(*) AS n FROM gpu_metrics")["n"][0] == 0
        assert trace.sql("SELECT count(*) AS n FROM gpu_metric_info")["n"][0] == 0
    finally:
        trace.close()
