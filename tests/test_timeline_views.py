"""The timeline views (sql/views) against independent computations on the raw nsys export (sqlite3 + Python).

Interval unions, idle gaps, copy/compute overlap, per-step figures and NVTX attribution are recomputed here from
the export's own tables with plain Python sweeps, so a mistake in the SQL cannot hide in a shared helper.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict

import pytest

from inferscope.analyze import prepare
from tests import synth
from tests.conftest import NSYS_SQLITE, needs_shared

pytestmark = needs_shared


def union(intervals):
    out = []
    for s, e in sorted(intervals):
        if out and s <= out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return out


def total(intervals):
    return sum(e - s for s, e in intervals)


def intersect_total(a, b):
    """Total length of the intersection of two unions (each sorted, non-overlapping)."""
    i = j = t = 0
    while i < len(a) and j < len(b):
        lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        t += max(0, hi - lo)
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return t


def raw_gpu_rows(path, columns: str):
    """(op_kind, row) for each kernel, memcpy and memset row of the export, `columns` selected from its table."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    for table, kind in (
        ("CUPTI_ACTIVITY_KIND_KERNEL", "kernel"),
        ("CUPTI_ACTIVITY_KIND_MEMCPY", "memcpy"),
        ("CUPTI_ACTIVITY_KIND_MEMSET", "memset"),
    ):
        if table in tables:
            for row in con.execute(f"SELECT {columns} FROM {table}"):
                yield kind, row


def raw_ops(path):
    ops = defaultdict(lambda: defaultdict(list))  # device -> kind -> intervals
    for kind, (dev, s, e) in raw_gpu_rows(path, 'deviceId, start, "end"'):
        ops[dev]["compute" if kind == "kernel" else "copy"].append((s, e))
        ops[dev]["all"].append((s, e))
    return ops


@pytest.mark.parametrize("path", NSYS_SQLITE, ids=lambda p: p.stem)
def test_busy_union_idle_and_overlap_match_a_python_sweep(path, open_trace):
    t = open_trace(path)
    prepare(t)
    busy = {
        (r["device_id"], r["kind"]): r["b"]
        for r in t.sql("SELECT device_id, kind, sum(dur_ns) AS b FROM gpu_busy GROUP BY ALL", arrow=True).to_pylist()
    }
    idle = {
        r["device_id"]: (r["n"], r["i"])
        for r in t.sql(
            "SELECT device_id, count(*) AS n, sum(dur_ns) AS i FROM gpu_idle_gaps GROUP BY ALL", arrow=True
        ).to_pylist()
    }
    exposed = {
        r["device_id"]: r["exposed_ns"]
        for r in t.sql("SELECT * FROM gpu_exposed WHERE kind = 'copy'", arrow=True).to_pylist()
    }
    ops = raw_ops(path)
    assert ops, "export without GPU work"
    for dev, kinds in ops.items():
        u = {k: union(v) for k, v in kinds.items()}
        for kind, iv in u.items():
            assert busy[(dev, kind)] == total(iv), (dev, kind)
        span = u["all"][-1][1] - u["all"][0][0]
        n, i = idle.get(dev, (0, 0))
        assert (n, i) == (len(u["all"]) - 1, span - total(u["all"]))
        if "copy" in u:
            assert exposed[dev] == total(u["copy"]) - intersect_total(u["copy"], u.get("compute", []))


@pytest.mark.parametrize("path", NSYS_SQLITE, ids=lambda p: p.stem)
def test_gpu_ops_are_numbered_in_the_documented_order(path, open_trace):
    """op_id is 1..n over (start, end, device, stream, kind, correlation id), as gpu_ops.sql documents: the view
    numbers a sorted subquery's rows as they stream, which only holds if DuckDB keeps that order, so it is checked
    here against a sort in Python of the export's own rows."""
    t = open_trace(path)
    prepare(t)
    got = t.sql(
        "SELECT op_id, start_ns, end_ns, device_id, stream_id, op_kind, correlation_id FROM gpu_ops ORDER BY op_id",
        arrow=True,
    ).to_pylist()
    columns = 'start, "end", deviceId, streamId, correlationId'
    raw = [(s, e, d, st, kind, c) for kind, (s, e, d, st, c) in raw_gpu_rows(path, columns)]
    assert raw, "export without GPU work"
    assert [r["op_id"] for r in got] == list(range(1, len(raw) + 1))
    key = ("start_ns", "end_ns", "device_id", "stream_id", "op_kind", "correlation_id")
    assert [tuple(r[k] for k in key) for r in got] == sorted(raw)


def test_innermost_nvtx_range_of_each_launch_matches_a_stack_walk(open_trace):
    """h100 export: 16.8k PyTorch NVTX ranges; each launch call's innermost open push/pop range on its thread."""
    path = next(p for p in NSYS_SQLITE if p.stem.startswith("h100"))
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    ranges = defaultdict(list)
    for s, e, gtid, text, _ in con.execute(
        'SELECT n.start, n."end", n.globalTid, coalesce(s.value, n.text), 0 FROM NVTX_EVENTS n '
        'LEFT JOIN StringIds s ON s.id = n.textId WHERE n.eventType IN (59, 70) AND n."end" IS NOT NULL'
    ):
        ranges[gtid].append((s, e, text))
    launches = con.execute("SELECT r.start, r.globalTid, r.correlationId FROM CUPTI_ACTIVITY_KIND_RUNTIME r").fetchall()
    expected = {}
    for gtid, rs in ranges.items():
        rs.sort(key=lambda r: (r[0], -r[1]))
        pts = sorted((s, c) for s, g, c in launches if g == gtid)
        stack, i = [], 0
        for ts, corr in pts:
            while i < len(rs) and rs[i][0] <= ts:
                while stack and stack[-1][1] < rs[i][0]:
                    stack.pop()
                stack.append(rs[i])
                i += 1
            while stack and stack[-1][1] < ts:
                stack.pop()
            if stack:
                expected[((gtid >> 24) & 0xFFFFFF, corr)] = stack[-1][2]
    t = open_trace(path)
    prepare(t)
    got = {
        (r["pid"], r["correlation_id"]): r["innermost_name"]
        for r in t.sql(
            "SELECT DISTINCT n.pid, o.correlation_id, n.innermost_name FROM gpu_op_nvtx n JOIN gpu_ops o USING (op_id)",
            arrow=True,
        ).to_pylist()
    }
    launched = {
        (r["pid"], r["correlation_id"])
        for r in t.sql("SELECT DISTINCT pid, correlation_id FROM gpu_ops", arrow=True).to_pylist()
    }
    assert len(got) > 1000
    assert got == {k: v for k, v in expected.items() if k in launched}


@pytest.fixture(scope="module")
def stepped(tmp_path_factory):
    return synth.stepped(tmp_path_factory.mktemp("steps"), "synth_steps_views")


def test_steps_match_the_raw_export(stepped, open_trace):
    path, ranges = stepped
    con = sqlite3.connect(path)
    pid = con.execute("SELECT globalTid >> 24 & 16777215 FROM NVTX_EVENTS LIMIT 1").fetchone()[0]
    launches = con.execute(
        'SELECT r.start, k.start, k."end", k.correlationId FROM CUPTI_ACTIVITY_KIND_KERNEL k '
        "JOIN CUPTI_ACTIVITY_KIND_RUNTIME r ON r.correlationId = k.correlationId"
    ).fetchall()
    gpu = union([(s, e) for ops in raw_ops(path).values() for s, e in ops["all"]])
    t = open_trace(path)
    a = t.analyze()
    rows = a.steps.to_pylist()
    assert [(r["name"], r["start_ns"], r["end_ns"]) for r in rows] == ranges
    for r in rows:
        s, e = r["start_ns"], r["end_ns"]
        assert r["pid"] == pid and r["dur_ns"] == e - s
        assert r["kernel_count"] == sum(1 for api, *_ in launches if s <= api < e)
        assert (
            r["launch_count"]
            == len({c for api, _, _, c in launches if s <= api < e})
            + con.execute(
                "SELECT count(*) FROM CUPTI_ACTIVITY_KIND_MEMCPY m JOIN CUPTI_ACTIVITY_KIND_RUNTIME r "
                "ON r.correlationId = m.correlationId WHERE r.start >= ? AND r.start < ?",
                (s, e),
            ).fetchone()[0]
        )
        assert r["gpu_busy_ns"] == total([(max(a0, s), min(b0, e)) for a0, b0 in gpu if a0 < e and b0 > s])
    assert a.value("step_count") == len(ranges)
    durs = sorted(e - s for _, s, e in ranges)
    assert a.value("step_time_p50_ns") == pytest.approx((durs[3] + durs[4]) / 2)


def test_custom_step_patterns_and_phases(tmp_path, open_trace):
    names = ["prefill"] + [f"decode_step {i}" for i in range(1, 6)]
    path, ranges = synth.stepped(tmp_path, "synth_phases", steps=6, names=names)
    a = open_trace(path).analyze()
    assert [r["phase"] for r in a.steps.to_pylist()] == ["prefill"] + ["decode"] * 5
    assert a.value("phase_step_count", key="decode") == 5 and a.value("phase_step_count", key="prefill") == 1
    assert a.value("phase_step_time_p50_ns", key="prefill") == ranges[0][2] - ranges[0][1]
    custom = open_trace(path).analyze(step_patterns=[r"^decode_step [1-3]$"])
    assert [r["name"] for r in custom.steps.to_pylist()] == ["decode_step 1", "decode_step 2", "decode_step 3"]
    assert "--step-pattern" in custom.step_source
    # back to the defaults on the next call
    assert len(open_trace(path).analyze().steps) == 6


def test_profiler_steps_win_over_phase_names_and_take_their_phase(tmp_path, open_trace):
    path, ranges = synth.stepped(tmp_path, "synth_nested", steps=4)
    con = sqlite3.connect(path)
    tid = synth.main_thread(con)
    for _, s, e in ranges:  # a decode range inside each ProfilerStep
        synth.add_range(con, "decode", s + 10, e - 10, tid)
    con.commit()
    rows = open_trace(path).analyze().steps.to_pylist()
    assert [(r["name"], r["phase"]) for r in rows] == [(f"ProfilerStep#{i}", "decode") for i in range(4)]


def test_startend_ranges_across_threads_collect_the_work_launched_inside(tmp_path, open_trace):
    path, con = synth.copy_export(synth.CLOVERLEAF, tmp_path, "synth_startend")
    synth.ensure_nvtx(con)
    tid = synth.main_thread(con)
    starts = synth.launch_starts(con)
    s, e = starts[100] - 1, starts[200] - 1
    con.execute(
        'INSERT INTO NVTX_EVENTS (start, "end", eventType, text, globalTid, endGlobalTid) '
        "VALUES (?, ?, 60, 'request 7', ?, ?)",
        (s, e, tid, tid + 1),
    )
    con.commit()
    expected = con.execute(
        "SELECT count(*) FROM CUPTI_ACTIVITY_KIND_RUNTIME r JOIN (SELECT correlationId FROM "
        "CUPTI_ACTIVITY_KIND_KERNEL UNION ALL SELECT correlationId FROM CUPTI_ACTIVITY_KIND_MEMCPY) o "
        "USING (correlationId) WHERE r.start BETWEEN ? AND ?",
        (s, e),
    ).fetchone()[0]
    t = open_trace(path)
    prepare(t)
    rows = t.sql("SELECT * FROM gpu_op_startend", arrow=True).to_pylist()
    assert len(rows) == expected >= 100  # 100 kernel launches plus the copies issued between them
    assert {(r["range_name"], r["cross_thread"]) for r in rows} == {("request 7", True)}


def test_sync_calls_count_each_wait_once(open_trace):
    """h100: each cudaStreamSynchronize has both an API row and a CUPTI synchronisation record."""
    path = next(p for p in NSYS_SQLITE if p.stem.startswith("h100"))
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    api = con.execute(
        "SELECT count(*) FROM CUPTI_ACTIVITY_KIND_RUNTIME r JOIN StringIds s ON s.id = r.nameId "
        "WHERE s.value LIKE 'cudaStreamSynchronize%'"
    ).fetchone()[0]
    cupti = con.execute("SELECT count(*) FROM CUPTI_ACTIVITY_KIND_SYNCHRONIZATION WHERE syncType = 3").fetchone()[0]
    t = open_trace(path)
    prepare(t)
    assert api == cupti == 8
    assert t.sql("SELECT source, count(*) AS n FROM sync_calls GROUP BY ALL", arrow=True).to_pylist() == [
        {"source": "api", "n": 8}
    ]
