"""The metric files and rules spread over several DuckDB connections (analyze/query_workers.py, Engine.worker): a
worker connection reads what the engine's own reads, the results come back in task order, a failure stops the
rest, and an analysis is the same on one connection as on several."""

from __future__ import annotations

import threading
import time

import duckdb
import pytest

import inferscope
from inferscope.analyze import MATERIALIZE, prepare, query_workers
from inferscope.engine.core import DERIVED, Engine
from tests.conftest import KINETO_TRACES, SAMPLES, TRACES, needs_shared

SAMPLE = SAMPLES / "h100_2gpu_fastvideo.sqlite"


def _count(con, sql: str) -> int:
    return con.execute(sql).fetchall()[0][0]


def test_a_worker_reads_the_tables_views_and_variables_of_the_engine(tmp_path):
    with inferscope.open(SAMPLE, cache_dir=tmp_path) as t:
        engine = t.engine
        prepare(t)
        # a table made in place of a view, with fewer rows than the view has: a worker must read the table
        view_rows = _count(engine.raw, "SELECT count(*) FROM main.gpu_busy")
        assert view_rows > 1
        engine.create_table("gpu_busy", "SELECT * FROM main.gpu_busy ORDER BY ALL LIMIT 1")
        engine.con.execute("SET VARIABLE report_top_n = 7")
        engine.con.execute("SET VARIABLE hta_input_ops_regex = 'it''s'")
        worker = engine.worker()
        assert worker is not None
        try:
            assert _count(worker, "SELECT count(*) FROM gpu_busy") == 1
            for name in ("gpu_ops", "gpu_idle_gaps", "steps"):  # materialised by prepare
                sql = f"SELECT count(*), hash(list(t ORDER BY ALL)) FROM {name} t"
                assert worker.execute(sql).fetchall() == engine.raw.execute(sql).fetchall(), name
            assert worker.execute("SELECT getvariable('report_top_n')").fetchall() == [(7,)]
            assert worker.execute("SELECT getvariable('hta_input_ops_regex')").fetchall() == [("it's",)]
        finally:
            worker.close()


def test_a_worker_registers_the_arrow_tables_of_an_uncached_trace():
    with inferscope.open(SAMPLE, use_cache=False) as t:
        want = _count(t.engine.con, "SELECT count(*) FROM kernels")
        assert want > 0
        worker = t.engine.worker()
        try:
            assert _count(worker, "SELECT count(*) FROM kernels") == want
        finally:
            worker.close()


def test_no_worker_beside_a_temporary_table_and_the_tasks_run_on_the_engine_alone():
    engine = Engine()
    engine.raw.execute("CREATE TEMP TABLE scratch AS SELECT 41 AS x")
    assert engine.worker() is None
    seen = []

    def task(con):
        seen.append(con)
        return _count(con, "SELECT x + 1 FROM scratch")

    assert query_workers.run(engine, [task, task, task], connections=2) == [42, 42, 42]
    assert all(con is engine.raw for con in seen)


def test_results_come_back_in_task_order_from_several_connections():
    engine = Engine()
    threads = set()

    def task(i):
        def run(con):
            threads.add(threading.get_ident())
            time.sleep(0.02 * (5 - i))  # the first tasks finish last
            return _count(con, f"SELECT {i} * 10")

        return run

    assert query_workers.run(engine, [task(i) for i in range(6)], connections=2) == [i * 10 for i in range(6)]
    assert len(threads) == 2


def test_the_first_failure_is_raised_and_no_task_starts_after_it():
    engine = Engine()
    started = []

    def ok(con):
        started.append("ok")
        time.sleep(0.05)
        return 1

    def bad(con):
        started.append("bad")
        raise ValueError("broken task")

    tasks = [bad] + [ok] * 10
    with pytest.raises(ValueError, match="broken task"):
        query_workers.run(engine, tasks, connections=2)
    assert len(started) <= 3  # the failing task, and at most the one the other connection had begun


def test_a_statement_under_way_on_another_connection_is_interrupted_by_a_failure():
    engine = Engine()
    began = threading.Event()

    def slow(con):
        began.set()
        return con.execute("SELECT count(*) FROM range(10000000000) a").fetchall()

    def bad(con):
        began.wait(10)
        time.sleep(0.2)
        raise RuntimeError("out of memory, say")

    t0 = time.perf_counter()
    with pytest.raises(RuntimeError, match="out of memory"):
        query_workers.run(engine, [slow, bad], connections=2)
    assert time.perf_counter() - t0 < 60  # the count alone would run for minutes


@needs_shared
@pytest.mark.parametrize(
    "trace",
    [
        SAMPLE,
        TRACES / "h200/h200_llm_decode_eager.json.gz",
        TRACES / "h200/h200_gpu_metrics_nsys2025.3.sqlite.gz",
        KINETO_TRACES / "vllm_gptoss_b200_tp8_rank0_eager.json.gz",
        KINETO_TRACES / "hf_qwen05b_h100_forward_memory.json.gz",
    ],
    ids=lambda p: p.name,
)
def test_an_analysis_is_the_same_on_one_connection_and_on_several(trace, tmp_path, monkeypatch):
    if not trace.exists():
        pytest.skip(f"{trace} not found")
    made = []
    worker = Engine.worker

    def counted(self):
        con = worker(self)
        made.append(con)
        return con

    monkeypatch.setattr(Engine, "worker", counted)
    docs = {}
    for n in (1, 3):
        monkeypatch.setattr(query_workers, "connections_for", lambda engine, n=n: n)
        with inferscope.open(trace, cache_dir=tmp_path / str(n)) as t:
            docs[n] = t.analyze().to_dict()
    assert len(made) == 4 and all(made)  # the run on three connections: two workers for the tables, two for queries
    assert docs[1] == docs[3]


def test_tables_are_made_after_what_they_read_and_read_as_tables_on_every_connection():
    engine = Engine()
    made_on: dict[str, object] = {}
    order: list[str] = []
    lock = threading.Lock()

    def job(name, select, after=(), own=False):
        def make(con):
            with lock:
                made_on[name] = con
            time.sleep(0.05)
            con.execute(f"CREATE OR REPLACE TABLE {DERIVED}.{name} AS {select}")
            with lock:
                order.append(name)
            return True

        return query_workers.Job(name, make, frozenset(after), own)

    jobs = [
        job("a", "SELECT range AS x FROM range(5)"),
        job("b", "SELECT range AS x FROM range(7)"),
        # reads a and b by their unqualified names: it must find the tables, through views on its own connection
        job("c", "SELECT (SELECT count(*) FROM a) * 10 + (SELECT count(*) FROM b) AS n", after={"a", "b"}),
        job("d", "SELECT n + 1 AS n FROM c", after={"c"}, own=True),
        job("e", "SELECT 1 AS x", after={"not_a_job"}),  # a table made earlier, not by this run: no wait
    ]
    query_workers.materialize(engine, jobs, connections=2)
    assert order.index("c") > max(order.index("a"), order.index("b")) and order.index("d") > order.index("c")
    assert made_on["d"] is engine.raw
    assert len({id(c) for c in made_on.values()}) == 2  # both connections made tables
    assert engine.raw.execute("SELECT n FROM d").fetchall() == [(58,)]  # the engine's connection shows every table
    assert engine.created_tables() == {"a", "b", "c", "d", "e"}


def test_a_failing_table_stops_the_rest_and_is_raised():
    engine = Engine()
    ran = []

    def ok(con):
        ran.append("ok")
        return False

    def bad(con):
        con.execute("SELECT * FROM no_such_table")

    jobs = [query_workers.Job("bad", bad)] + [query_workers.Job(f"t{i}", ok, frozenset({"bad"})) for i in range(4)]
    with pytest.raises(duckdb.CatalogException, match="no_such_table"):
        query_workers.materialize(engine, jobs, connections=2)
    assert ran == []  # every other table waited for the failed one


def test_mentioned_follows_views_through_their_files(tmp_path):
    with inferscope.open(SAMPLE, cache_dir=tmp_path) as t:
        found = t.engine.mentioned("SELECT * FROM main.idle_ledger", among=MATERIALIZE)
    assert {"gpu_idle_causes", "gpu_idle_gaps", "gpu_ops", "warmup", "steps"} <= found
    assert "memory_timeline" not in found and "hta_gpu_ops" not in found


def test_a_large_trace_is_analysed_on_one_connection(tmp_path, monkeypatch):
    with inferscope.open(SAMPLE, cache_dir=tmp_path) as t:
        rows = _count(t.engine.raw, "SELECT (SELECT count(*) FROM kernels) + (SELECT count(*) FROM api_calls) "
                                    "+ (SELECT count(*) FROM nvtx_ranges)")  # fmt: skip
        threads = _count(t.engine.raw, "SELECT current_setting('threads')")
        monkeypatch.setattr(query_workers, "LARGE_ROWS", rows)
        assert query_workers.connections_for(t.engine) == min(query_workers.MAX_CONNECTIONS, threads)
        monkeypatch.setattr(query_workers, "LARGE_ROWS", rows - 1)
        assert query_workers.connections_for(t.engine) == 1
