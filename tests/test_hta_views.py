"""Diff tests of sql/views/hta_*.sql on a hand-made trace: a few operations whose every expected number is worked
out in the comments from the input (times in ns).

    stream 7: k1 compute [1000,1100)  memcpy 5000 B [1200,1250)  k3 "waitSync" (OTHER) [1270,1290)
    stream 8: k2 ncclKernel (COMMUNICATION) [1050,1150)
    launch calls (pid 1): c1 [900,950)->k1, c2 [960,980)->k2, c3 cudaMemcpyAsync [1150,1160)->memcpy,
                          c4 [1100,1130)->k3
"""

from __future__ import annotations

import pyarrow as pa
import pytest

from inferscope import model
from inferscope.engine.core import Engine


def table(name, rows):
    schema = model.TABLE_BY_NAME[name].schema
    return pa.table({f.name: [r.get(f.name) for r in rows] for f in schema}, schema=schema)


def op(start, end, stream, corr, **kw):
    return {
        "start_ns": start,
        "end_ns": end,
        "dur_ns": end - start,
        "device_id": 0,
        "stream_id": stream,
        "correlation_id": corr,
        "pid": 1,
        **kw,
    }


def call(name, start, end, corr):
    return {
        "start_ns": start,
        "end_ns": end,
        "dur_ns": end - start,
        "pid": 1,
        "tid": 1,
        "correlation_id": corr,
        "name": name,
        "raw_name": name,
        "api_kind": "runtime",
    }


def rng(rid, name, start, end, category, depth=0):
    return {
        "range_id": rid,
        "name": name,
        "start_ns": start,
        "end_ns": end,
        "dur_ns": end - start,
        "pid": 1,
        "tid": 1,
        "style": "PushPop",
        "category": category,
        "depth": depth,
    }


@pytest.fixture(scope="module")
def engine():
    tables = {
        "kernels": table(
            "kernels",
            [
                op(1000, 1100, 7, 1, name="gemm_kernel"),
                op(1050, 1150, 8, 2, name="ncclKernel_AllReduce"),
                op(1270, 1290, 7, 4, name="waitSync"),
            ],
        ),
        "memcpy": table(
            "memcpy",
            [
                op(
                    1200,
                    1250,
                    7,
                    3,
                    bytes=5000,
                    copy_kind=1,
                    copy_kind_name="HtoD",
                    src_kind="Pinned",
                    dst_kind="Device",
                )
            ],
        ),
        "api_calls": table(
            "api_calls",
            [
                call("cudaLaunchKernel", 900, 950, 1),
                call("cudaLaunchKernel", 960, 980, 2),
                call("cudaMemcpyAsync", 1150, 1160, 3),
                call("cudaLaunchKernel", 1100, 1130, 4),
            ],
        ),
        "nvtx_ranges": table(
            "nvtx_ranges",
            [
                rng(1, "ProfilerStep#1", 950, 1300, "profiler_step"),
                rng(2, "enumerate(DataLoader)#_SingleProcessDataLoaderIter.__next__", 960, 1010, "user_annotation", 1),
                rng(3, "aten::collate", 970, 1000, "cpu_op", 2),
                rng(4, "aten::mm", 1020, 1040, "cpu_op", 1),
            ],
        ),
    }
    e = Engine(tables=tables)
    yield e
    e.close()


def rows(engine, sql):
    return [tuple(r.values()) for r in engine.query(sql).to_pylist()]


def test_gpu_ops_classification(engine):
    assert rows(engine, "SELECT name, kernel_type, mem_type FROM hta_gpu_ops ORDER BY start_ns") == [
        ("gemm_kernel", "COMPUTATION", None),
        ("ncclKernel_AllReduce", "COMMUNICATION", None),
        ("Memcpy HtoD (Pinned -> Device)", "MEMORY", "Memcpy HtoD"),
        ("waitSync", "OTHER", None),
    ]


def test_temporal_breakdown(engine):
    # span 1000..1290 = 290; busy [1000,1150) + [1200,1250) + [1270,1290) = 220; idle 70; compute = k1 = 100
    assert rows(engine, "SELECT span_ns, busy_ns, idle_ns, compute_ns, non_compute_ns FROM hta_temporal_breakdown") == [
        (290, 220, 70, 100, 120)
    ]


def test_kernel_type_breakdown(engine):
    # k1 alone [1000,1050), k1+k2 [1050,1100), k2 alone [1100,1150), memcpy [1200,1250); OTHER not labelled
    assert rows(engine, "SELECT kernel_type, dur_ns FROM hta_kernel_type_breakdown ORDER BY 1") == [
        ("COMMUNICATION", 50),
        ("COMPUTATION", 50),
        ("COMPUTATION overlapping COMMUNICATION", 50),
        ("MEMORY", 50),
    ]


def test_comm_comp_overlap(engine):
    assert rows(engine, "SELECT comm_ns, overlap_ns, overlap_pct FROM hta_comm_comp_overlap") == [(100, 50, 50.0)]


def test_idle_time_breakdown(engine):
    # stream 7: memcpy's call starts at 1150 after k1 ended (1100): host wait 100; k3's call (1100) started before
    # the memcpy ended (1250) and the gap is 20 < 30: kernel wait. Stream 8 has one op, so no gap.
    engine.con.execute("SET VARIABLE hta_kernel_wait_ns = 30")
    try:
        assert rows(
            engine, "SELECT stream_id, idle_category, idle_ns, gaps FROM hta_idle_time_breakdown ORDER BY 2"
        ) == [(7, "host_wait", 100, 1), (7, "kernel_wait", 20, 1)]
    finally:
        engine.con.execute("RESET VARIABLE hta_kernel_wait_ns")


def test_kernel_launch_stats(engine):
    # delay = op start - call end: k1 1000-950, k2 1050-980, memcpy 1200-1160, k3 1270-1130.
    # cutoffs 30 / 100: c1 (50) is a runtime outlier; c4 (30) launched a 20 ns kernel: short; k3's delay 140: late
    engine.con.execute("SET VARIABLE hta_runtime_cutoff_ns = 30")
    engine.con.execute("SET VARIABLE hta_launch_delay_cutoff_ns = 100")
    try:
        assert rows(
            engine,
            "SELECT correlation_id, cpu_dur_ns, gpu_dur_ns, launch_delay_ns, short_kernel, "
            "runtime_outlier, launch_delay_outlier FROM hta_kernel_launch_stats ORDER BY 1",
        ) == [
            (1, 50, 100, 50, False, True, False),
            (2, 20, 100, 70, False, False, False),
            (3, 10, 50, 40, False, False, False),
            (4, 30, 20, 140, True, False, True),
        ]
    finally:
        engine.con.execute("RESET VARIABLE hta_runtime_cutoff_ns")
        engine.con.execute("RESET VARIABLE hta_launch_delay_cutoff_ns")


def test_queue_length(engine):
    # stream 7: +1@900 (c1) -1@1000 (k1) +1@1100 (c4) +1@1150 (c3) -1@1200 (memcpy) -1@1270 (k3)
    assert rows(engine, "SELECT ts_ns, queue_length FROM hta_queue_length WHERE stream_id = 7 ORDER BY 1") == [
        (900, 1),
        (1000, 0),
        (1100, 1),
        (1150, 2),
        (1200, 1),
        (1270, 0),
    ]
    s = engine.query("SELECT * FROM hta_queue_length_summary WHERE stream_id = 7").to_pylist()[0]
    assert (s["points"], s["max"], s["min"]) == (6, 2, 0)
    assert s["mean"] == pytest.approx(5 / 6)
    # held: 100 ns at 1, 100 at 0, 50 at 1, 50 at 2, 70 at 1 (the last value holds for no known time)
    assert s["time_weighted_mean"] == pytest.approx(320 / 370)


def test_memory_bandwidth(engine):
    # 5000 B in 50 ns = 100 GB/s while the copy runs
    assert rows(engine, "SELECT ts_ns, memory_bw_gbps FROM hta_memory_bw ORDER BY 1") == [(1200, 100.0), (1250, 0.0)]
    assert rows(engine, "SELECT name, points, max_gbps, bytes, ops FROM hta_memory_bw_summary") == [
        ("Memcpy HtoD", 1, 100.0, 5000, 1)
    ]


def test_input_pipeline_steps(engine):
    # DataLoader range [960,1010) holds collate [970,1000): counted once, 50 ns of a 350 ns step (14.3 % >= 5 %);
    # the GPU is busy 220 ns of the step
    r = engine.query("SELECT * FROM hta_input_pipeline_steps").to_pylist()
    assert len(r) == 1
    r = r[0]
    assert (r["step_name"], r["step_ns"], r["input_ns"], r["gpu_busy_ns"], r["input_bound"]) == (
        "ProfilerStep#1",
        350,
        50,
        220,
        True,
    )
    assert r["input_pct"] == pytest.approx(100 * 50 / 350)
    assert r["gpu_idle_pct"] == pytest.approx(100 * 130 / 350)
