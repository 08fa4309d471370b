"""Long, distinct NVTX names (issue 17, class 8): stored once, never merged, never shortened.

Range names formatted from request ids, prompts or shape lists are kilobytes long and all different. Arrow's
dictionary_encode held several copies of them (150k such names, 1.5 GB of text, took 7.8-9.3 GB), so large text
columns are deduplicated by hash instead (inferscope/ingest/strings.py). These tests check that what that path
produces is exactly what the plain path and the raw file say: every name, in every row, with no two merged, also
when the hash is made to collide. Memory itself is measured by benchmarks/bench_long_names.py, not here.
"""

from __future__ import annotations

import itertools
import random
import sqlite3

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import inferscope
from inferscope.ingest import iter_tables, strings
from tests.conftest import NSYS_TRACES, needs_shared
from tests.trace_edits import long_names_copy


def _decoded(local: np.ndarray, distinct: pa.ChunkedArray) -> list:
    values = distinct.to_pylist()
    return [None if i < 0 else values[i] for i in local]


def _mixed_column() -> pa.ChunkedArray:
    """Repeats, NULLs, the empty string and long names differing only in their last character, over chunks."""
    rnd = random.Random(3)
    long = "x" * 4000
    pool = ["", "a", "decode", long + "1", long + "2", "prefill " * 300]
    values = [None if rnd.random() < 0.1 else rnd.choice(pool) + str(rnd.randint(0, 40)) for _ in range(6000)]
    return pa.chunked_array([pa.array(values[:2500]), pa.array(values[2500:])])


@pytest.mark.parametrize("weak_hash", [False, True], ids=["hash", "colliding-hash"])
def test_hashed_encoding_equals_dictionary_encoding(monkeypatch, weak_hash):
    column = _mixed_column()
    plain_local, plain_distinct = strings._encode(column)  # small: Arrow's dictionary_encode
    monkeypatch.setattr(strings, "HASHED_ENCODE_BYTES", 0)
    if weak_hash:  # every string of one length shares a hash: the collision check must notice and fall back
        monkeypatch.setattr(strings, "HASH_SQL", "length(t)")
    local, distinct = strings._encode(column)
    assert _decoded(local, distinct) == column.to_pylist() == _decoded(plain_local, plain_distinct)
    assert len(set(distinct.to_pylist())) == len(distinct) == len(plain_distinct)  # each distinct string once
    assert None not in distinct.to_pylist()


def test_distinct_rows_are_not_copied(monkeypatch):
    """When every row is distinct the column is its own dictionary: no copy of the strings is made."""
    monkeypatch.setattr(strings, "HASHED_ENCODE_BYTES", 0)
    column = pa.chunked_array([pa.array([f"req-{i}-" + "p" * 500 for i in range(300)]), pa.array(["last"])])
    local, distinct = strings._encode(column)
    assert distinct is column and local.tolist() == list(range(301))


def test_mostly_distinct_texts_are_not_copied(monkeypatch):
    """A StringTable may keep NVTX texts as read (repeats and NULLs included, never pointed to) rather than copy
    them; every row still resolves to its own text, and repeats to one entry."""
    monkeypatch.setattr(strings, "HASHED_ENCODE_BYTES", 0)
    texts = [None if i % 7 == 0 else f"request {i} " + "q" * 300 for i in range(700)] + ["request 1 " + "q" * 300]
    column = pa.chunked_array([pa.array(texts[:300]), pa.array(texts[300:])])
    local, values = strings._encode(column, exact=False)
    assert values is column and _decoded(local, values) == texts
    assert local[-1] == local[1]  # the repeat points at the first row with its text
    table = strings.StringTable(pa.array([0]), pa.array(["registered"]))
    ids = table.add_texts(column)
    assert table.dictionary(ids).to_pylist() == texts
    assert table.dictionary(ids).dictionary.to_pylist() == [t for t in texts[:700] if t is not None]


def test_take_sorted_matches_take_over_segments():
    values = pa.chunked_array(
        [pa.array(list("abc")), pa.array(list("defg")), pa.array([], pa.string()), pa.array(["hi", None])]
    )
    flat = values.to_pylist()
    for k in range(len(flat) + 1):
        for positions in itertools.combinations(range(len(flat)), k):
            got = strings._take_sorted(values, np.array(positions, dtype=np.int64))
            assert got.to_pylist() == [flat[i] for i in positions]
    # long runs (texts read beside a few repeats and NULLs) are sliced, not taken: same strings
    long = pa.chunked_array([pa.array([f"s{i}" for i in range(100)]), pa.array([f"t{i}" for i in range(50)])])
    runs = np.array([*range(0, 40), *range(41, 100), *range(100, 120), *range(130, 150)], dtype=np.int64)
    flat = long.to_pylist()
    assert strings._take_sorted(long, runs).to_pylist() == [flat[i] for i in runs]


@needs_shared
def test_long_distinct_names_survive_ingest_cache_and_sql(tmp_path, monkeypatch):
    """Through conversion, the Parquet cache and DuckDB: every added range keeps its full name, and pairs that
    differ only in the last of 10,000 characters stay two names. The expected names are read back from the
    edited export with sqlite3."""
    monkeypatch.setattr(strings, "HASHED_ENCODE_BYTES", 1 << 20)  # the hashed path, on a test-sized file
    path, names = long_names_copy(NSYS_TRACES / "h100_2gpu_fastvideo.sqlite", tmp_path, rows=1200, length=10_000)
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    raw = [t for (t,) in con.execute("SELECT text FROM NVTX_EVENTS WHERE length(text) = 10000 ORDER BY rowid")]
    con.close()
    assert raw == names
    tables = dict(iter_tables(path))
    converted = [n for n in tables["nvtx_ranges"].sort_by("range_id").column("name").to_pylist() if len(n) == 10_000]
    assert converted == raw
    trace = inferscope.open(path, cache_dir=tmp_path / "cache")
    try:
        got = trace.sql(
            "SELECT count(*) AS n, count(DISTINCT name) AS d, min(length(name)) AS shortest "
            "FROM nvtx_ranges WHERE length(name) >= 10000"
        ).to_dict("records")[0]
    finally:
        trace.close()
    assert got == {"n": len(raw), "d": len(set(raw)), "shortest": 10_000}
    # mostly-distinct names are written without a Parquet dictionary (it would save nothing and cost copies)
    (entry,) = [p for p in (tmp_path / "cache").iterdir() if p.is_dir() and not p.name.startswith(".")]
    meta = pq.ParquetFile(entry / "nvtx_ranges.parquet").metadata
    name_col = meta.schema.names.index("name")
    encodings = {e for g in range(meta.num_row_groups) for e in meta.row_group(g).column(name_col).encodings}
    assert not encodings & {"PLAIN_DICTIONARY", "RLE_DICTIONARY"}, encodings
    assert len(set(raw)) == len(raw)  # the edit's pairs really are distinct names
