"""nsys string ids become dictionary columns with the values a LEFT JOIN on StringIds would give, and the Parquet
cache stores them as plain strings."""

from __future__ import annotations

import sqlite3

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from inferscope import ingest, model
from inferscope.engine import cache
from inferscope.ingest.strings import StringTable

from .conftest import NSYS_TRACES, needs_shared


def _join_oracle(ids: list, string_ids: dict[int, str]) -> list:
    con = duckdb.connect()
    con.register("S", pa.table({"id": list(string_ids), "value": list(string_ids.values())}))
    con.register("T", pa.table({"pos": list(range(len(ids))), "sid": pa.array(ids, pa.int64())}))
    return [v for (v,) in con.sql("SELECT s.value FROM T LEFT JOIN S s ON s.id = T.sid ORDER BY pos").fetchall()]


def test_dictionary_equals_left_join():
    # ids with a gap, two ids for one string, NULL ids, ids past the end and negative ids
    string_ids = {0: "alpha", 1: "beta", 3: "alpha", 7: "gamma", 8: ""}
    table = StringTable(pa.array(list(string_ids)), pa.array(list(string_ids.values())))
    ids = [3, 0, None, 7, 2, 99, 8, 1, 1, -5]
    got = table.dictionary(pa.chunked_array([pa.array(ids[:4], pa.int64()), pa.array(ids[4:], pa.int64())]))
    assert got.to_pylist() == _join_oracle(ids, string_ids)
    # only the strings used, each once
    assert sorted(got.dictionary.to_pylist()) == ["", "alpha", "beta", "gamma"]


def test_inline_texts_share_the_id_space():
    table = StringTable(pa.array([0, 1]), pa.array(["registered", "other"]))
    texts = pa.chunked_array([pa.array(["inline", None, "registered"]), pa.array(["inline", "new"])])
    ids = table.add_texts(texts)
    assert ids.null_count == 1 and ids[0].as_py() == ids[3].as_py()
    # an inline text equal to a registered string resolves to the same dictionary entry
    col = table.dictionary(pa.array([0, *ids.to_pylist()], pa.int64()))
    assert col.to_pylist() == ["registered", "inline", None, "registered", "inline", "new"]
    assert sorted(col.dictionary.to_pylist()) == ["inline", "new", "registered"]


def test_resolve_renames_and_encodes():
    table = StringTable(pa.array([5]), pa.array(["k"]))
    out = table.resolve(
        pa.table(
            {
                "name__sid": pa.array([5, None], pa.int64()),
                "label": ["a", "a"],
                "empty": pa.nulls(2, pa.string()),
                "n": [1, 2],
            }
        )
    )
    assert out.column_names == ["name", "label", "empty", "n"]
    assert pa.types.is_dictionary(out.schema.field("name").type) and pa.types.is_dictionary(
        out.schema.field("label").type
    )
    assert out.to_pylist() == [
        {"name": "k", "label": "a", "empty": None, "n": 1},
        {"name": None, "label": "a", "empty": None, "n": 2},
    ]


@needs_shared
def test_converted_names_equal_the_sqlite_join(tmp_path):
    """Kernel and NVTX names through the dictionary path equal what SQLite's own join gives, and the Parquet
    cache holds them as plain strings (the model's type)."""
    src = NSYS_TRACES / "h100_2gpu_fastvideo.sqlite"
    tables = dict(ingest.iter_tables(src))
    assert pa.types.is_dictionary(tables["kernels"].schema.field("name").type)
    con = sqlite3.connect(f"file:{src}?mode=ro", uri=True)
    want = con.execute(
        "SELECT k.start, k.correlationId, coalesce(d.value, s.value) FROM CUPTI_ACTIVITY_KIND_KERNEL k "
        "LEFT JOIN StringIds d ON d.id = k.demangledName LEFT JOIN StringIds s ON s.id = k.shortName "
        "ORDER BY 1, 2"
    ).fetchall()
    k = tables["kernels"].sort_by([("start_ns", "ascending"), ("correlation_id", "ascending")])
    assert list(zip(*(k.column(c).to_pylist() for c in ("start_ns", "correlation_id", "name")))) == want
    nvtx = con.execute(
        "SELECT n.rowid, coalesce(s.value, n.text) FROM NVTX_EVENTS n "
        "LEFT JOIN StringIds s ON s.id = n.textId WHERE n.eventType IN (59, 60, 70, 71) ORDER BY 1"
    ).fetchall()
    r = tables["nvtx_ranges"].sort_by("range_id")  # range_id is the NVTX_EVENTS row position + 1
    assert len(nvtx) > 1000 and r.column("name").to_pylist() == [w for (_, w) in nvtx]
    entry = cache.store(src, tmp_path, tables.items())
    for name in ("kernels", "nvtx_ranges", "api_calls"):
        assert pq.read_schema(entry / f"{name}.parquet") == model.TABLE_BY_NAME[name].schema


def test_sparse_ids_are_searched_not_indexed():
    """An edited export with a huge string id must not allocate an array as large as the id."""
    string_ids = {0: "alpha", 10**12: "far", 5: "beta"}
    table = StringTable(pa.array(list(string_ids)), pa.array(list(string_ids.values())))
    texts = table.add_texts(pa.array(["inline", "far"]))
    assert texts.to_pylist() == [10**12 + 1, 10**12 + 2]
    ids = [10**12, 5, None, 3, 10**12 + 1, 10**12 + 2, 0]
    assert table.dictionary(pa.array(ids, pa.int64())).to_pylist() == [
        "far",
        "beta",
        None,
        None,
        "inline",
        "far",
        "alpha",
    ]
