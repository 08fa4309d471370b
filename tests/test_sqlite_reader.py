"""The SQLite reader's fast paths (rowid slices on parallel connections, sparse columns fetched apart) must give
exactly what one plain sqlite3 query gives, on a real export edited to have payloads, cross-thread ends and rowid
gaps. sqlite3 itself is the oracle."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pyarrow as pa
import pytest

import inferscope
from inferscope import model
from inferscope.errors import TraceInputError

from inferscope.ingest import nsys_raw

from .conftest import NSYS_TRACES, needs_shared
from .synth import copy_export

pytestmark = needs_shared
H100 = NSYS_TRACES / "h100_2gpu_fastvideo.sqlite"


def _edited_copy(tmp_path: Path, gaps: bool) -> Path:
    out, con = copy_export(H100, tmp_path, "edited")
    with con:
        con.execute("UPDATE NVTX_EVENTS SET int64Value = 42 WHERE rowid = 5")
        con.execute("UPDATE NVTX_EVENTS SET uint32Value = 7 WHERE rowid = 6")
        con.execute("UPDATE NVTX_EVENTS SET doubleValue = 1.5 WHERE rowid = 9000")
        con.execute("UPDATE NVTX_EVENTS SET endGlobalTid = globalTid + 1 WHERE rowid IN (10, 16000)")
        con.execute("UPDATE NVTX_EVENTS SET jsonText = '{\"k\": 1}' WHERE rowid = 11")
        if gaps:
            con.execute("DELETE FROM NVTX_EVENTS WHERE rowid IN (1, 2, 8000, 8001, 8002)")
            con.execute("DELETE FROM CUPTI_ACTIVITY_KIND_KERNEL WHERE rowid % 97 = 0")
            # a gap of 2^40 rowids in the middle, and the last row at the largest rowid SQLite allows
            con.execute("UPDATE NVTX_EVENTS SET rowid = rowid + (1 << 40) WHERE rowid > 9000")
            con.execute(
                "UPDATE CUPTI_ACTIVITY_KIND_KERNEL SET rowid = 9223372036854775807 "
                "WHERE rowid = (SELECT max(rowid) FROM CUPTI_ACTIVITY_KIND_KERNEL)"
            )
    con.close()
    return out


def _oracle(path: Path, name: str) -> list[tuple]:
    """The rows as one plain sqlite3 query in rowid order returns them, derived columns computed the same way."""
    con = sqlite3.connect(path)
    try:
        have = {r[1] for r in con.execute(f'PRAGMA table_info("{name}")')}
        exprs = []
        for c in nsys_raw.RAW_COLUMNS[name]:
            sources = nsys_raw.DERIVED.get(name, {}).get(c)
            if sources:
                present = [s for s in sources if s in have]
                exprs.append(f"coalesce({', '.join(present)}, NULL)" if present else "NULL")
            else:
                exprs.append(f'"{c}"' if c in have else "NULL")
        return con.execute(f'SELECT {", ".join(exprs)} FROM "{name}" ORDER BY rowid').fetchall()
    finally:
        con.close()


def _rows(tables: list[pa.Table]) -> list[tuple]:
    return [row for t in tables for row in zip(*(t.column(c).to_pylist() for c in t.column_names))]


@pytest.mark.parametrize("how", ["whole", "batches"])
@pytest.mark.parametrize("gaps", [False, True], ids=["contiguous-rowids", "rowid-gaps"])
@pytest.mark.parametrize("name", ["NVTX_EVENTS", "CUPTI_ACTIVITY_KIND_KERNEL"])
def test_sliced_and_sparse_reads_equal_one_plain_query(tmp_path, monkeypatch, name, gaps, how):
    """Whole (rowid slices on parallel connections) and streamed (rowid ranges read ahead on parallel connections,
    handed on in order, the sparse columns put in place per range) give the rows of one plain query."""
    path = _edited_copy(tmp_path, gaps)
    monkeypatch.setattr(nsys_raw, "SPLIT_ROWS", 1000)  # the real threshold is above these tables' sizes
    reader = nsys_raw.SqliteReader(path)
    try:
        parts = [reader(name)] if how == "whole" else list(reader.batches(name, 700))
    finally:
        reader.close()
    if how == "batches":  # several ranges, and more than the threads reading them at once
        assert len(parts) > nsys_raw.READ_THREADS + 2
    assert all(t.column_names == nsys_raw.RAW_COLUMNS[name] for t in parts)
    got = _rows(parts)
    want = _oracle(path, name)
    assert len(got) == len(want) > 1000
    assert got == want
    table = pa.concat_tables(parts, promote_options="permissive")
    if name == "NVTX_EVENTS":  # the edits arrived, at their rows
        assert table.column("payloadInt").drop_null().to_pylist() == [42, 7]
        assert table.column("payloadDouble").drop_null().to_pylist() == [1.5]
        assert table.column("endGlobalTid").null_count == table.num_rows - 2
        assert table.column("jsonText").drop_null().to_pylist() == ['{"k": 1}']


def test_table_without_rowid_is_read_whole(tmp_path):
    """A view in place of a table (a user's edit) has no rowid to slice by; it is still read."""
    path, con = copy_export(H100, tmp_path, "view")
    with con:
        con.execute("ALTER TABLE CUPTI_ACTIVITY_KIND_MEMCPY RENAME TO memcpy_rows")
        con.execute("CREATE VIEW CUPTI_ACTIVITY_KIND_MEMCPY AS SELECT * FROM memcpy_rows")
    con.close()
    reader = nsys_raw.SqliteReader(path)
    try:
        table = reader("CUPTI_ACTIVITY_KIND_MEMCPY")
    finally:
        reader.close()
    assert table.num_rows == sqlite3.connect(path).execute("SELECT count(*) FROM memcpy_rows").fetchone()[0] > 0


@pytest.mark.parametrize("how", ["whole", "batches"])
def test_slice_whose_column_changes_type_falls_back(tmp_path, monkeypatch, how):
    """ADBC infers a column's type from a slice's first rows and gives up when it changes later; that slice is
    read again with sqlite3 (on its own connection) and the table still holds every row."""
    path, con = copy_export(H100, tmp_path, "mixed")
    with con:
        last = con.execute("SELECT max(rowid) FROM CUPTI_ACTIVITY_KIND_KERNEL").fetchone()[0]
        con.execute("UPDATE CUPTI_ACTIVITY_KIND_KERNEL SET registersPerThread = 'many' WHERE rowid = ?", (last - 3,))
    con.close()
    monkeypatch.setattr(nsys_raw, "SPLIT_ROWS", 1000)
    reader = nsys_raw.SqliteReader(path)
    try:
        name = "CUPTI_ACTIVITY_KIND_KERNEL"
        parts = [reader(name)] if how == "whole" else list(reader.batches(name, 1500))
    finally:
        reader.close()
    want = _oracle(path, "CUPTI_ACTIVITY_KIND_KERNEL")
    assert sum(t.num_rows for t in parts) == len(want)
    regs = [v for t in parts for v in t.column("registersPerThread").to_pylist()]
    assert [str(v) for v in regs] == [
        str(w[nsys_raw.RAW_COLUMNS["CUPTI_ACTIVITY_KIND_KERNEL"].index("registersPerThread")]) for w in want
    ]
    assert "many" in regs
    assert [v for t in parts for v in t.column("start").to_pylist()] == [w[0] for w in want]


def test_text_in_a_numeric_column_becomes_null(tmp_path):
    """SQLite is dynamically typed: an edited export may hold text in an integer column. The trace still
    converts; that cell is NULL and the rest of the column keeps its numbers."""
    path, con = copy_export(H100, tmp_path, "text_cell")
    with con:
        con.execute("UPDATE CUPTI_ACTIVITY_KIND_KERNEL SET registersPerThread = 'many' WHERE rowid = 3000")
        regs = con.execute(
            "SELECT sum(registersPerThread) FROM CUPTI_ACTIVITY_KIND_KERNEL WHERE rowid <> 3000"
        ).fetchone()[0]
    con.close()
    t = inferscope.open(path, use_cache=False)
    n, valid, total = t.rows(
        "SELECT count(*), count(registers_per_thread), sum(registers_per_thread) FROM kernels"
    ).rows[0]
    assert (n - valid, total) == (1, regs)
    assert t.stats("cuda_gpu_kern_sum").rows()


def test_uncastable_column_is_one_clear_error():
    bad = pa.table({"start_ns": pa.array([[1], [2]])})  # a list where an integer belongs
    with pytest.raises(TraceInputError, match=r"kernels\.start_ns: cannot read list<item: int64> values as int64"):
        model.conform("kernels", bad)


def test_adbc_reads_what_sqlite3_reads():
    """The fast path is taken, not silently replaced by the sqlite3 fallback: ADBC's own reads (whole, and in
    batches of the size asked, also when the reader stops part-way) give sqlite3's rows."""
    from inferscope.ingest import adbc_sqlite

    pytest.importorskip("adbc_driver_sqlite")
    uri = f"file:{H100}?mode=ro"
    sql = 'SELECT start, "end", deviceId, shortName FROM CUPTI_ACTIVITY_KIND_KERNEL ORDER BY rowid'
    want = sqlite3.connect(H100).execute(sql).fetchall()
    adbc = adbc_sqlite.connect(uri)
    assert adbc is not None
    try:
        assert _rows([adbc.read(sql)]) == want
        batches = list(adbc.batches(sql, 1000))
        assert [b.num_rows for b in batches[:-1]] == [1000] * (len(batches) - 1)
        assert _rows([pa.Table.from_batches(batches)]) == want
        stopped = adbc.batches(sql, 1000)
        assert next(stopped).num_rows == 1000
        stopped.close()  # the stream and its statement released; the connection still reads
        assert adbc.read("SELECT count(*) FROM CUPTI_ACTIVITY_KIND_KERNEL").column(0).to_pylist() == [len(want)]
    finally:
        adbc.close()
    assert adbc_sqlite.connect(f"file:{H100.parent / 'no-such-export.sqlite'}?mode=ro") is None


def test_rowid_bounds_and_count_read_the_index(tmp_path):
    """The bounds (two subqueries, each from the rowid b-tree's end) equal min and max over the rows, with gaps."""
    path = _edited_copy(tmp_path, gaps=True)
    reader = nsys_raw.SqliteReader(path)
    try:
        for name in ("NVTX_EVENTS", "CUPTI_ACTIVITY_KIND_KERNEL"):
            lo, hi = sqlite3.connect(path).execute(f'SELECT min(rowid), max(rowid) FROM "{name}"').fetchone()
            assert reader._rowid_bounds(name) == (lo, hi)
            assert reader.count(name) == hi - lo + 1
    finally:
        reader.close()
