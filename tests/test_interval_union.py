"""The streamed interval-union sweep (analyze/interval_union.py) against the SQL views it stands in for, and against
a plain-Python union: the rows of gpu_busy, gpu_busy_by_pid and api_busy_by_thread must be the SQL's own, with its
column types, however the sorted rows are cut into slices."""

from __future__ import annotations

import random

import pyarrow as pa
import pytest

from inferscope.analyze import MATERIALIZE, interval_union
from inferscope.engine.core import Engine
from inferscope.model import empty_table
from tests.conftest import KINETO_TRACES, NSYS_TRACES, SAMPLES, TRACES, needs_shared

UNIONS = sorted(interval_union.UNIONS)


def _sweep_equals_sql(engine: Engine) -> dict[str, int]:
    """Materialise each union both ways on `engine`; asserts equal rows and types, returns the row counts."""
    con, raw = engine.con, engine.raw
    engine.drop_temporary(MATERIALIZE)
    con.execute("CREATE TEMP TABLE gpu_ops AS SELECT * FROM main.gpu_ops")
    counts = {}
    for name in UNIONS:
        con.execute(f"CREATE TEMP TABLE sql_{name} AS SELECT * FROM main.{name}")
        assert interval_union.materialize(engine, name)
        for a, b in ((f"sql_{name}", f"temp.{name}"), (f"temp.{name}", f"sql_{name}")):
            extra = raw.execute(f"SELECT * FROM {a} EXCEPT ALL SELECT * FROM {b} LIMIT 3").fetchall()
            assert not extra, f"{name}: rows of {a} not in {b}: {extra}"
        types = [raw.execute(f"DESCRIBE {t}").fetchall() for t in (f"sql_{name}", f"temp.{name}")]
        assert [r[:2] for r in types[0]] == [r[:2] for r in types[1]], name
        counts[name] = raw.execute(f"SELECT count(*) FROM sql_{name}").fetchall()[0][0]
        raw.execute(f"DROP TABLE sql_{name}")
        engine.drop_temporary([name])
    return counts


TRACE_FILES = [
    SAMPLES / "h100_2gpu_fastvideo.sqlite",
    SAMPLES / "annotated_inference_nsys2022.4.sqlite",
]
SHARED_FILES = [
    NSYS_TRACES / "a100_saxpy_mpi_nsys2022.2.sqlite",
    NSYS_TRACES / "a100x4_cloverleaf_nsys2024.5.sqlite",
    NSYS_TRACES / "h200_nvfuser_matmul_nsys2024.6.sqlite",
    NSYS_TRACES / "t4_cupy_power_iteration_nsys2025.3.sqlite",
    TRACES / "h200" / "h200_nsys_llm_serving_nsys2025.3.sqlite.gz",
    KINETO_TRACES / "v100_rank1_train.json.gz",
    KINETO_TRACES / "vllm_gptoss_b200_tp8_rank0_eager.json.gz",
    KINETO_TRACES / "amd_mi250_rocm.json.gz",
    KINETO_TRACES / "nccl_args.json.gz",
]


@pytest.mark.parametrize("path", TRACE_FILES, ids=lambda p: p.name)
@pytest.mark.parametrize("batch_rows", [interval_union.BATCH_ROWS, 101])
def test_bundled_samples(path, batch_rows, open_trace, monkeypatch):
    monkeypatch.setattr(interval_union, "BATCH_ROWS", batch_rows)
    _sweep_equals_sql(open_trace(path).engine)


@needs_shared
@pytest.mark.parametrize("path", SHARED_FILES, ids=lambda p: p.name)
def test_shared_traces(path, open_trace, monkeypatch):
    counts = _sweep_equals_sql(open_trace(path).engine)
    assert counts["gpu_busy"] > 0  # every one of these ran GPU work
    monkeypatch.setattr(interval_union, "BATCH_ROWS", 997)  # islands carried across slices
    _sweep_equals_sql(open_trace(path).engine)


def _union(rows):
    """Plain-Python interval union per key: {key: [(start, end, ops, busy before)]}, merging touching intervals."""
    out = {}
    for key in {r[0] for r in rows}:
        islands = []
        for s, e in sorted((r[1], r[2]) for r in rows if r[0] == key):
            if islands and s <= islands[-1][1]:
                islands[-1][1] = max(islands[-1][1], e)
                islands[-1][2] += 1
            else:
                islands.append([s, e, 1])
        busy, done = 0, []
        for s, e, n in islands:
            done.append((s, e, n, busy))
            busy += e - s
        out[key] = done
    return out


@pytest.mark.parametrize("seed", range(12))
def test_sweep_matches_a_plain_union_however_the_rows_are_sliced(seed):
    rng = random.Random(seed)
    rows = []
    for part in range(rng.randint(1, 5)):
        t = rng.randint(0, 50)
        for _ in range(rng.randint(1, 300)):
            t += rng.choice([0, 0, 1, 2, 5, 30])  # equal starts, touching and nested intervals, gaps
            rows.append((part, t, t + rng.choice([0, 1, 3, 10, 100])))
    rows.sort()
    want = _union(rows)
    cut = sorted({0, len(rows), *(rng.randint(0, len(rows)) for _ in range(rng.randint(0, 8)))})
    sweep = interval_union._Sweep()
    got: dict[int, list] = {}
    pieces = [sweep.feed(*zip(*rows[a:b])) if b > a else sweep.feed([], [], []) for a, b in zip(cut, cut[1:])]
    for out in [*pieces, sweep.finish()]:
        for p, s, e, n, c in zip(
            *(out[k].tolist() for k in ("part", "start_ns", "end_ns", "op_count", "cum_before_ns"))
        ):
            got.setdefault(p, []).append((s, e, n, c))
    assert {k: sorted(v) for k, v in got.items()} == want


def _engine_with_calls(rows) -> Engine:
    schema = empty_table("api_calls").schema
    cols = {f.name: pa.nulls(len(rows), f.type) for f in schema}
    for i, name in enumerate(("pid", "tid", "start_ns", "end_ns")):
        cols[name] = pa.array([r[i] for r in rows], pa.int64())
    cols["name"] = pa.array(["cudaLaunchKernel"] * len(rows))
    return Engine(tables={"api_calls": pa.table(cols, schema=schema)})


def test_null_threads_form_their_own_partition_as_in_the_sql(monkeypatch):
    monkeypatch.setattr(interval_union, "BATCH_ROWS", 3)
    rows = [(1, None, 0, 10), (1, None, 5, 20), (1, 7, 0, 4), (1, 7, 4, 9), (None, None, 3, 8), (2, 1, 30, 31)]
    engine = _engine_with_calls(rows)
    con = engine.con
    con.execute("CREATE TEMP TABLE sql_rows AS SELECT * FROM main.api_busy_by_thread")
    assert interval_union.materialize(engine, "api_busy_by_thread")
    mine = con.execute("SELECT * FROM temp.api_busy_by_thread ORDER BY ALL").fetchall()
    assert mine == con.execute("SELECT * FROM sql_rows ORDER BY ALL").fetchall()
    assert (1, None, 0, 20, 20, 0) in mine and (1, 7, 0, 9, 9, 0) in mine  # touching calls merge


def test_a_call_without_an_end_leaves_the_union_to_the_sql():
    engine = _engine_with_calls([(1, 1, 0, 10), (1, 1, 5, None)])
    assert not interval_union.materialize(engine, "api_busy_by_thread")
    names = {r[0] for r in engine.raw.execute("SELECT table_name FROM duckdb_tables() WHERE temporary").fetchall()}
    assert not engine.created_tables() and not any(n.startswith("_union") for n in names)
