"""The SQLite reader's fast paths (rowid slices on parallel connections, sparse columns fetched apart) must give
exactly what one plain sqlite3 query gives, on a real export edited to have payloads, cross-thread ends and rowid
gaps. sqlite3 itself is the oracle."""
from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from inferscope.ingest import nsys_raw

from .conftest import NSYS_TRACES, needs_shared

pytestmark = needs_shared
H100 = NSYS_TRACES / "h100_2gpu_fastvideo.sqlite"


def _edited_copy(tmp_path: Path, gaps: bool) -> Path:
    out = tmp_path / "edited.sqlite"
    shutil.copy(H100, out)
    out.chmod(0o644)
    con = sqlite3.connect(out)
    with con:
        con.execute("UPDATE NVTX_EVENTS SET int64Value = 42 WHERE rowid = 5")
        con.execute("UPDATE NVTX_EVENTS SET uint32Value = 7 WHERE rowid = 6")
        con.execute("UPDATE NVTX_EVENTS SET doubleValue = 1.5 WHERE rowid = 9000")
        con.execute("UPDATE NVTX_EVENTS SET endGlobalTid = globalTid + 1 WHERE rowid IN (10, 16000)")
        con.execute("UPDATE NVTX_EVENTS SET jsonText = '{\"k\": 1}' WHERE rowid = 11")
        if gaps:
            con.execute("DELETE FROM NVTX_EVENTS WHERE rowid IN (1, 2, 8000, 8001, 8002)")
            con.execute("DELETE FROM CUPTI_ACTIVITY_KIND_KERNEL WHERE rowid % 97 = 0")
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


@pytest.mark.parametrize("gaps", [False, True], ids=["contiguous-rowids", "rowid-gaps"])
@pytest.mark.parametrize("name", ["NVTX_EVENTS", "CUPTI_ACTIVITY_KIND_KERNEL"])
def test_sliced_and_sparse_reads_equal_one_plain_query(tmp_path, monkeypatch, name, gaps):
    path = _edited_copy(tmp_path, gaps)
    monkeypatch.setattr(nsys_raw, "SPLIT_ROWS", 1000)  # the real threshold is above these tables' sizes
    reader = nsys_raw.SqliteReader(path)
    try:
        table = reader(name)
    finally:
        reader.close()
    assert table.column_names == nsys_raw.RAW_COLUMNS[name]
    got = list(zip(*(table.column(c).to_pylist() for c in table.column_names)))
    want = _oracle(path, name)
    assert len(got) == len(want) > 1000
    assert got == want
    if name == "NVTX_EVENTS":  # the edits arrived, at their rows
        assert table.column("payloadInt").drop_null().to_pylist() == [42, 7]
        assert table.column("payloadDouble").drop_null().to_pylist() == [1.5]
        assert table.column("endGlobalTid").null_count == table.num_rows - 2
        assert table.column("jsonText").drop_null().to_pylist() == ['{"k": 1}']


def test_table_without_rowid_is_read_whole(tmp_path):
    """A view in place of a table (a user's edit) has no rowid to slice by; it is still read."""
    path = tmp_path / "view.sqlite"
    shutil.copy(H100, path)
    path.chmod(0o644)
    con = sqlite3.connect(path)
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
