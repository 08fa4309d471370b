"""Arrow tables handed to DuckDB (duckdb_conn.registrable): DuckDB 1.4.4 kills the process when it groups a
dictionary column whose dictionary is empty, which an in-memory conversion gives every string column a trace does
not fill. The floor variant of CI runs these on that release, where a regression is a crashed worker."""

from __future__ import annotations

import re

import pyarrow as pa

from inferscope import duckdb_conn
from tests import golden_outputs
from tests.conftest import TRACES, needs_shared

_STAMP = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}(:\d{2})? UTC")


def test_empty_dictionaries_are_decoded_and_others_kept():
    empty = pa.DictionaryArray.from_arrays(pa.array([None] * 4, pa.int32()), pa.array([], pa.string()))
    filled = pa.array(["a", None, "b", "a"]).dictionary_encode()
    table = pa.table({"empty": empty, "filled": filled, "n": [1, 2, 3, 4]})
    out = duckdb_conn.registrable(table)
    assert out.schema.field("empty").type == pa.string() and out.column("empty").null_count == 4
    assert out.column("filled").type == filled.type and out.column("filled").to_pylist() == filled.to_pylist()
    con = duckdb_conn.connect()
    con.register("t", out)
    assert con.execute("SELECT empty, filled, count(*) FROM t GROUP BY ALL ORDER BY 2").fetchall() == [
        (None, "a", 2),
        (None, "b", 1),
        (None, None, 1),
    ]


@needs_shared
def test_a_report_converted_in_memory_equals_the_cached_one(tmp_path, monkeypatch):
    monkeypatch.setenv("INFERSCOPE_CACHE_DIR", str(tmp_path))
    path = "nsys/h100_2gpu_fastvideo.sqlite"
    in_memory = golden_outputs.run(TRACES, ["analyze", path, "-f", "md", "--no-cache"])[1]
    cached = golden_outputs.run(TRACES, ["analyze", path, "-f", "md"])[1]
    assert _STAMP.sub("T", in_memory) == _STAMP.sub("T", cached)
    assert "### Top kernels" in cached and "Top annotated ranges" in cached  # the queries that crashed ran
