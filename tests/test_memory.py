"""GPU memory analysis: nsys memory events ingest and the memory_* views.

No shared trace carries nsys `--cuda-memory-usage` data, so the nsys traces here are built by tests/memory_trace.py:
a copy of a real export with CUDA_GPU_MEMORY_USAGE_EVENTS rows added on the real schema at the process's real
cudaMalloc/cudaFree calls. Expected figures come from the inserted rows, not from InferScope.
"""

from __future__ import annotations

import pyarrow as pa
import pytest

import inferscope
from inferscope import model
from tests import memory_trace
from tests.conftest import needs_shared


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    d = tmp_path_factory.mktemp("memtrace")
    path = d / "cloverleaf_with_memory.sqlite"
    exp = memory_trace.build(path, target_fraction=0.95)
    trace = inferscope.open(path, cache_dir=d / "cache")
    yield trace, exp
    trace.close()


@needs_shared
def test_ingest_keeps_sign_size_thread_and_kind(built):
    t, exp = built
    ev = t.sql("SELECT * FROM memory_events ORDER BY ts_ns")
    assert len(ev) == exp.allocs + exp.frees + 1
    frees = ev[ev.operation == "free"]
    assert len(frees) == exp.frees
    # a quarter of the frees were written with bytes = 0; all of them get the allocation's size, negative
    assert (frees.bytes == -exp.alloc_size).all()
    assert (ev[ev.operation == "alloc"].bytes > 0).all()
    runtime_tid = t.sql("SELECT DISTINCT tid FROM api_calls").tid.tolist()
    assert set(ev.tid) == set(runtime_tid)
    assert ev.correlation_id.notna().all()
    assert sorted(ev.mem_kind.unique()) == ["Device", "Pinned"]


@needs_shared
def test_timeline_excludes_host_memory_and_tracks_total(built):
    t, exp = built
    tl = t.sql("SELECT * FROM memory_timeline ORDER BY seq")
    assert "Pinned" not in set(tl.mem_kind)
    assert len(tl) == exp.allocs + exp.frees
    final = sum(b for _, b, _ in exp.events)
    assert tl.device_allocated_bytes.iloc[-1] == final
    assert tl.device_allocated_bytes.max() == exp.peak_bytes
    assert (tl.process_allocated_bytes == tl.device_allocated_bytes).all()  # one process


@needs_shared
def test_peak_says_when_where_and_share_of_capacity(built):
    t, exp = built
    p = t.sql("SELECT * FROM memory_peak").iloc[0]
    assert p.device_id == 0
    assert p.peak_bytes == exp.peak_bytes
    assert p.peak_ns == exp.peak_ns
    assert p.tid == exp.peak_tid
    assert exp.peak_phase and p.phase == exp.peak_phase
    assert p.nvtx_range.startswith(exp.peak_phase + " {")
    assert p.total_memory_bytes == exp.capacity_bytes
    assert p.peak_pct == pytest.approx(100.0 * exp.peak_bytes / exp.capacity_bytes)
    assert 90 < p.peak_pct <= 95


@needs_shared
def test_churn_counts_and_lifetimes(built):
    t, exp = built
    c = t.sql("SELECT * FROM memory_churn").iloc[0]
    assert (c.allocs, c.frees) == (exp.allocs, exp.frees)
    assert c.alloc_bytes == exp.allocs * exp.alloc_size
    assert c.free_bytes == exp.frees * exp.alloc_size
    # lifetimes from the inserted rows: frees release allocations in order (FIFO)
    alloc_ts = [ts for ts, b, _ in exp.events if b > 0]
    free_ts = [ts for ts, b, _ in exp.events if b < 0]
    lifetimes = sorted(f - a for a, f in zip(alloc_ts, free_ts))
    threshold = lifetimes[len(lifetimes) // 3]
    t.engine.con.execute(f"SET VARIABLE memory_short_lived_ns = {threshold}")
    try:
        c = t.sql("SELECT * FROM memory_churn").iloc[0]
    finally:
        t.engine.con.execute("RESET VARIABLE memory_short_lived_ns")
    assert c.short_lived_allocs == sum(1 for x in lifetimes if x < threshold)
    assert c.short_lived_bytes == c.short_lived_allocs * exp.alloc_size
    span = max(ts for ts, _, _ in exp.events) - min(ts for ts, _, _ in exp.events)
    assert c.span_ns == span
    assert c.allocs_per_s == pytest.approx(exp.allocs * 1e9 / span)


@needs_shared
def test_binned_timeline_for_charts(built):
    t, exp = built
    bins = t.sql("SELECT * FROM memory_timeline_bins ORDER BY bin")
    assert len(bins) == 240
    assert bins.max_allocated_bytes.max() == exp.peak_bytes
    assert bins.allocs.sum() == exp.allocs and bins.frees.sum() == exp.frees
    assert bins.end_allocated_bytes.iloc[-1] == sum(b for _, b, _ in exp.events)
    assert (bins.bin_start_ns.diff().dropna() == bins.bin_ns.iloc[0]).all()
    # the peak lies in the bin that holds its timestamp
    hit = bins[(bins.bin_start_ns <= exp.peak_ns) & (exp.peak_ns < bins.bin_start_ns + bins.bin_ns)]
    assert hit.max_allocated_bytes.iloc[0] == exp.peak_bytes
    t.engine.con.execute("SET VARIABLE memory_n_bins = 12")
    try:
        assert len(t.sql("SELECT * FROM memory_timeline_bins")) == 12
    finally:
        t.engine.con.execute("RESET VARIABLE memory_n_bins")


def _trace(memory_rows: list[dict], devices: list[dict] | None = None) -> inferscope.Trace:
    tables = {"memory_events": model.conform("memory_events", pa.Table.from_pylist(memory_rows))}
    if devices:
        tables["devices"] = model.conform("devices", pa.Table.from_pylist(devices))
    return inferscope.Trace("inline", "test", None, tables)


def test_allocator_totals_and_several_processes():
    """Kineto-style rows carry the allocator's own total; two processes on one GPU add up, a CPU row is ignored."""
    rows = [
        dict(
            ts_ns=10,
            pid=1,
            device_id=0,
            address=1,
            bytes=100,
            operation="alloc",
            mem_kind="Device",
            total_allocated_bytes=1100,
        ),
        dict(
            ts_ns=20,
            pid=2,
            device_id=0,
            address=2,
            bytes=50,
            operation="alloc",
            mem_kind="Device",
            total_allocated_bytes=50,
        ),
        dict(
            ts_ns=30,
            pid=1,
            device_id=0,
            address=1,
            bytes=-100,
            operation="free",
            mem_kind="Device",
            total_allocated_bytes=1000,
        ),
        dict(
            ts_ns=40,
            pid=2,
            device_id=0,
            address=3,
            bytes=500,
            operation="alloc",
            mem_kind="Device",
            total_allocated_bytes=550,
        ),
        dict(ts_ns=45, pid=2, device_id=None, address=9, bytes=999, operation="alloc", mem_kind="CPU"),
    ]
    with _trace(rows, [dict(device_id=0, total_memory_bytes=2000)]) as t:
        tl = t.sql("SELECT ts_ns, device_allocated_bytes FROM memory_timeline ORDER BY seq")
        assert tl.values.tolist() == [[10, 1100], [20, 1150], [30, 1050], [40, 1550]]
        p = t.sql("SELECT peak_bytes, peak_ns, peak_pct FROM memory_peak").iloc[0]
        assert (p.peak_bytes, p.peak_ns, p.peak_pct) == (1550, 40, pytest.approx(77.5))


def test_running_sum_is_a_lower_bound_when_capture_starts_late():
    """Frees of memory allocated before the capture must not make the total negative."""
    rows = [
        dict(ts_ns=1, pid=1, device_id=0, address=7, bytes=-300, operation="free", mem_kind="Device"),
        dict(ts_ns=2, pid=1, device_id=0, address=8, bytes=200, operation="alloc", mem_kind="Device"),
        dict(ts_ns=2, pid=1, device_id=0, address=6, bytes=-100, operation="free", mem_kind="Device"),
    ]
    with _trace(rows) as t:
        tl = t.sql("SELECT ts_ns, operation, device_allocated_bytes FROM memory_timeline ORDER BY seq")
        # frees first at equal timestamps; the lowest point is raised to 0
        assert tl.values.tolist() == [[1, "free", 100], [2, "free", 0], [2, "alloc", 200]]
        assert t.sql("SELECT phase, total_memory_bytes, peak_pct FROM memory_peak").isna().all(axis=None)


def test_no_memory_events_gives_empty_views(open_trace):
    from tests.conftest import SAMPLES

    t = open_trace(SAMPLES / "h100_2gpu_fastvideo.sqlite")
    for view in ("memory_timeline", "memory_timeline_bins", "memory_peak", "memory_churn", "memory_allocations"):
        assert t.sql(f"SELECT count(*) AS n FROM {view}").n[0] == 0


def _run_rule(t, **params) -> list[dict]:
    """The rule's SELECT with its parameters bound, as the analysis engine runs it."""
    from inferscope.resources import sql_dir

    sql = (sql_dir() / "rules" / "memory_near_capacity.sql").read_text()
    body = "\n".join(line for line in sql.splitlines() if not line.startswith("--"))
    return t.engine.query(body, {"min_pct": 90.0, **params}).to_pylist()


def _time_above(exp, pct: float, end_ns: int) -> int:
    """Time at or above pct of capacity, from the inserted events (each total holds until the next event)."""
    events = sorted(exp.events, key=lambda e: (e[0], e[1] > 0))
    total, above = 0, 0
    for i, (ts, delta, _) in enumerate(events):
        total += delta
        nxt = events[i + 1][0] if i + 1 < len(events) else max(end_ns, ts)
        if total * 100.0 >= pct * exp.capacity_bytes:
            above += nxt - ts
    return above


@needs_shared
def test_near_capacity_rule_fires_with_time_above_threshold(built):
    t, exp = built
    rows = _run_rule(t)
    assert len(rows) == 1
    r = rows[0]
    end = t.sql("SELECT max(end_ns) AS e FROM kernels").e[0]
    assert r["impact_ns"] == _time_above(exp, 90.0, end) > 0
    assert r["peak_bytes"] == exp.peak_bytes and r["device_id"] == 0
    assert r["phase"] == exp.peak_phase and r["severity"] is None  # 94.9% < 98%: medium
    assert _run_rule(t, min_pct=96.0) == []


@needs_shared
def test_near_capacity_rule_quiet_with_headroom_or_unknown_capacity(tmp_path):
    path = tmp_path / "half.sqlite"
    memory_trace.build(path, target_fraction=0.5)
    with inferscope.open(path, cache_dir=tmp_path / "cache") as t:
        assert 45 < t.sql("SELECT peak_pct FROM memory_peak").peak_pct[0] <= 50
        assert _run_rule(t) == []
    rows = [dict(ts_ns=1, pid=1, device_id=0, address=1, bytes=10 << 30, operation="alloc", mem_kind="Device")]
    with _trace(rows) as t:  # no devices table: capacity unknown, the rule cannot judge
        assert _run_rule(t, min_pct=0.0) == []


@needs_shared
def test_memory_by_annotated_phase(built):
    t, exp = built
    events = sorted(exp.events, key=lambda e: (e[0], e[1] > 0))

    def total_at(ts):  # allocated after every event at or before ts
        return sum(b for t_, b, _ in events if t_ <= ts)

    got = t.sql("SELECT * FROM memory_by_phase").set_index("phase")
    for name, start, end in exp.phases:
        inside = [(ts, b) for ts, b, _ in events if start <= ts < end]
        running, peak = total_at(start), total_at(start)
        for _, b in inside:
            running += b
            peak = max(peak, running)
        row = got.loc[name]
        assert row.peak_bytes == peak
        assert row.max_delta_bytes == total_at(end) - total_at(start)
        assert row.allocs == sum(1 for _, b in inside if b > 0)
        assert row.alloc_bytes == sum(b for _, b in inside if b > 0)
    assert got.peak_bytes.max() == exp.peak_bytes
    assert got.loc[exp.peak_phase, "peak_bytes"] == exp.peak_bytes


def test_kineto_memory_peak_is_the_allocators_own_total():
    """PyTorch profiler [memory] events carry the caching allocator's "Total Allocated": the peak must be its
    largest value on the GPU, read here straight from the JSON."""
    import gzip
    import importlib.util
    import json

    from tests.conftest import KINETO_TRACES

    path = KINETO_TRACES / "v100_rank1_train.json.gz"
    if not path.exists():
        pytest.skip(f"shared traces not found at {KINETO_TRACES}")
    if importlib.util.find_spec("inferscope.ingest.kineto") is None:
        pytest.skip("Kineto ingest (issue 7) is not on this branch yet")
    events = json.load(gzip.open(path))["traceEvents"]
    gpu = [e["args"] for e in events if e.get("name") == "[memory]" and e.get("args", {}).get("Device Type") == 1]
    with inferscope.open(path, use_cache=False) as t:
        p = t.sql("SELECT * FROM memory_peak").iloc[0]
        assert p.peak_bytes == max(a["Total Allocated"] for a in gpu)
        c = t.sql("SELECT * FROM memory_churn").iloc[0]
        assert c.allocs == sum(1 for a in gpu if a["Bytes"] > 0)
        assert c.frees == sum(1 for a in gpu if a["Bytes"] < 0)
