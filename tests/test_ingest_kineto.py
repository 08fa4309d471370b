"""Kineto (PyTorch profiler) ingest: small traces written here event by event (so every expected value follows
from the input), the shared real traces, rank directories, stats on Kineto, and bad input."""

from __future__ import annotations

import gzip
import json
import shutil

import pytest

import inferscope
from inferscope.errors import TraceInputError
from tests.conftest import KINETO_TRACES, run_cli

needs_kineto = pytest.mark.skipif(not KINETO_TRACES.exists(), reason=f"shared Kineto traces not at {KINETO_TRACES}")
PID, TID = 4242, 4243


def _x(cat, name, ts, dur, pid=PID, tid=TID, **args):
    return {"ph": "X", "cat": cat, "name": name, "pid": pid, "tid": tid, "ts": ts, "dur": dur, "args": args}


def small_trace(ts0=1_700_000_000_000_000, categories="new", rank=2, extra=(), base=None):
    """One ProfilerStep with an op, a kernel launch, a copy, a memset, a sync and a python function."""
    kernel, memcpy, memset, runtime, op = (
        ("kernel", "gpu_memcpy", "gpu_memset", "cuda_runtime", "cpu_op")
        if categories == "new"
        else ("Kernel", "Memcpy", "Memset", "Runtime", "Operator")
    )
    ev = [
        _x("user_annotation", "ProfilerStep#7", ts0 + 10, 100),
        _x(op, "aten::mm", ts0 + 20, 30, **{"External id": 1, "Input Dims": [[2, 2], [2, 2]]}),
        _x("python_function", "model.py(12): forward", ts0 + 15, 50),
        _x(runtime, "cudaLaunchKernel", ts0 + 25, 5, correlation=11, cbid=211),
        _x(
            kernel,
            "void gemm<float>(float*)",
            ts0 + 31.5,
            2.25,
            pid=0,
            tid=7,
            device=0,
            stream=7,
            correlation=11,
            grid=[4, 2, 1],
            block=[128, 1, 1],
            **{"registers per thread": 32, "shared memory": 1024},
        ),
        _x(runtime, "cudaMemcpyAsync", ts0 + 40, 4, correlation=12),
        _x(
            memcpy,
            "Memcpy HtoD (Pageable -> Device)",
            ts0 + 45,
            3,
            pid=0,
            tid=7,
            device=0,
            stream=7,
            correlation=12,
            bytes=4096,
        ),
        _x(runtime, "cudaMemsetAsync", ts0 + 50, 2, correlation=13),
        _x(memset, "Memset (Device)", ts0 + 53, 1, pid=0, tid=7, device=0, stream=7, correlation=13, bytes=512),
        _x("cuda_runtime", "cudaStreamSynchronize", ts0 + 60, 8, correlation=14),
        _x(
            "cuda_sync",
            "Stream Sync",
            ts0 + 61,
            6,
            pid=0,
            tid=7,
            device=0,
            stream=7,
            correlation=14,
            cuda_sync_kind="Stream Sync",
        ),
        {
            "ph": "i",
            "cat": "cpu_instant_event",
            "name": "[memory]",
            "pid": PID,
            "tid": TID,
            "ts": ts0 + 22,
            "s": "t",
            "args": {"Device Type": 1, "Device Id": 0, "Addr": 99, "Bytes": 1024, "Total Allocated": 1024},
        },
        {"ph": "M", "name": "process_name", "pid": PID, "tid": 0, "args": {"name": "python3"}},
        {"ph": "M", "name": "thread_name", "pid": PID, "tid": TID, "args": {"name": "main"}},
        {"ph": "f", "id": 11, "pid": 0, "tid": 7, "ts": ts0 + 31.5, "cat": "ac2g", "name": "ac2g", "bp": "e"},
        {
            "ph": "X",
            "cat": "Trace",
            "name": "PyTorch Profiler (0)",
            "pid": "Spans",
            "tid": "PyTorch Profiler",
            "ts": ts0,
            "dur": 200,
        },
        *extra,
    ]
    doc = {
        "schemaVersion": 1,
        "deviceProperties": [
            {
                "id": 0,
                "name": "NVIDIA H100",
                "totalGlobalMem": 85e9 // 1,
                "computeMajor": 9,
                "computeMinor": 0,
                "numSms": 132,
            }
        ],
        "distributedInfo": {"backend": "nccl", "rank": rank, "world_size": 4},
        "traceEvents": ev,
        "traceName": "x.json",
        "displayTimeUnit": "ms",
    }
    if base is not None:
        doc["baseTimeNanoseconds"] = base
    return doc


def write(path, doc, gz=False):
    data = json.dumps(doc).encode()
    if gz:
        data = gzip.compress(data)
    path.write_bytes(data)
    return path


def opened(path):
    return inferscope.open(path, use_cache=False)


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("categories", ["new", "2021"])
def test_small_trace_tables(tmp_path, gz, categories):
    t = opened(write(tmp_path / ("t.json.gz" if gz else "t.json"), small_trace(categories=categories), gz))
    k = t.table("kernels").to_pylist()
    assert len(k) == 1
    k = k[0]
    # ts 31.5 µs after a Trace span at ts0 (the timeline zero); 2.25 µs long
    assert (k["start_ns"], k["dur_ns"], k["end_ns"]) == (31_500, 2_250, 33_750)
    assert (k["device_id"], k["stream_id"], k["correlation_id"], k["pid"]) == (0, 7, 11, PID)
    assert (k["grid_x"], k["grid_y"], k["grid_z"], k["block_x"]) == (4, 2, 1, 128)
    assert (k["registers_per_thread"], k["dynamic_smem_bytes"]) == (32, 1024)
    m = t.table("memcpy").to_pylist()[0]
    assert (m["bytes"], m["copy_kind"], m["copy_kind_name"], m["src_kind"], m["dst_kind"]) == (
        4096,
        1,
        "HtoD",
        "Pageable",
        "Device",
    )
    s = t.table("memset").to_pylist()[0]
    assert (s["bytes"], s["mem_kind"], s["start_ns"]) == (512, "Device", 53_000)
    api = {r["name"]: r for r in t.table("api_calls").to_pylist()}
    assert api["cudaLaunchKernel"]["api_kind"] == "runtime" and api["cudaLaunchKernel"]["correlation_id"] == 11
    sync = t.table("sync_events").to_pylist()
    assert [(r["sync_type"], r["stream_id"], r["pid"]) for r in sync] == [("stream_sync", 7, PID)]
    ranges = {r["name"]: r for r in t.table("nvtx_ranges").to_pylist()}
    assert ranges["ProfilerStep#7"]["category"] == "profiler_step"
    assert ranges["aten::mm"]["category"] == "cpu_op"
    assert ranges["model.py(12): forward"]["category"] == "python_function"
    # nesting: the step holds the python function, which holds aten::mm
    assert ranges["ProfilerStep#7"]["depth"] == 0
    assert ranges["model.py(12): forward"]["parent_id"] == ranges["ProfilerStep#7"]["range_id"]
    assert ranges["aten::mm"]["parent_id"] == ranges["model.py(12): forward"]["range_id"]
    assert json.loads(ranges["aten::mm"]["payload_json"])["Input Dims"] == [[2, 2], [2, 2]]
    mem = t.table("memory_events").to_pylist()
    assert [(r["device_id"], r["bytes"], r["operation"], r["address"]) for r in mem] == [(0, 1024, "alloc", 99)]
    assert t.table("processes").to_pylist() == [{"pid": PID, "name": "python3"}]
    assert t.table("threads").to_pylist()[0]["name"] == "main"
    dev = t.table("devices").to_pylist()
    assert [(d["device_id"], d["name"], d["sm_count"], d["compute_major"]) for d in dev] == [(0, "NVIDIA H100", 132, 9)]
    meta = t.meta
    assert meta["source_format"] == "kineto" and meta["rank"] == "2" and meta["world_size"] == "4"
    assert meta["session_start_utc_ns"] == str(1_700_000_000_000_000 * 1000)


def test_ns_timestamps_are_exact(tmp_path):
    """µs with ns decimals at epoch magnitude: a float would land on 0.25 µs steps; the decimal text is exact."""
    doc = small_trace(ts0=1712195495519689)
    doc["traceEvents"][4]["ts"] = 1712195495519695.8
    doc["traceEvents"][4]["dur"] = 4.928
    raw = json.dumps(doc).replace("1712195495519695.8", "1712195495519695.801")
    path = tmp_path / "ns.json"
    path.write_text(raw)
    k = opened(path).table("kernels").to_pylist()[0]
    assert k["start_ns"] == 1712195495519695801 - 1712195495519689000
    assert k["dur_ns"] == 4928


def test_base_time_nanoseconds(tmp_path):
    """Newer Kineto writes ts relative to baseTimeNanoseconds; the session start is then base + first ts."""
    base = 1_735_632_360_000_000_000
    t = opened(write(tmp_path / "b.json", small_trace(ts0=4_203_669_603_018.756, base=base)))
    assert t.meta["session_start_utc_ns"] == str(base + 4_203_669_603_018_756)
    assert t.meta["kineto.base_time_ns"] == str(base)
    assert t.table("kernels").column("start_ns").to_pylist() == [31_500]


def test_array_format_and_no_rank(tmp_path):
    """Chrome's JSON Array Format (a bare event list): no metadata, no rank, still analysable."""
    events = small_trace()["traceEvents"]
    t = opened(write(tmp_path / "arr.json", events))
    assert t.table("kernels").num_rows == 1
    assert "rank" not in t.meta and t.table("devices").num_rows == 0


def test_rank_directory(tmp_path):
    """Two rank files: ids are offset per rank (pid + rank*1e8, device + rank*100) so nothing collides."""
    d = tmp_path / "job"
    d.mkdir()
    write(d / "rank0.json", small_trace(rank=0))
    write(d / "rank1.json.gz", small_trace(rank=1), gz=True)
    t = opened(d)
    k = t.sql("SELECT device_id, pid, correlation_id FROM kernels ORDER BY device_id")
    assert k.values.tolist() == [[0, PID, 11], [100, 100_000_000 + PID, 11]]
    launches = t.sql("SELECT device_id, api_pid FROM cuda_launches WHERE op_kind = 'kernel' ORDER BY 1")
    assert launches.values.tolist() == [[0, PID], [100, 100_000_000 + PID]]
    assert t.meta["ranks"] == "0,1" and t.meta["source_format"] == "kineto-dir"
    assert sorted(t.table("devices").column("device_id").to_pylist()) == [0, 100]
    assert sorted(t.table("processes").column("name").to_pylist()) == ["python3 [rank 0]", "python3 [rank 1]"]


def test_rank_directory_duplicate_rank(tmp_path):
    d = tmp_path / "dup"
    d.mkdir()
    write(d / "a.json", small_trace(rank=3))
    write(d / "b.json", small_trace(rank=3))
    with pytest.raises(TraceInputError, match="both rank 3"):
        opened(d)


def test_unknown_categories_and_invalid_events_are_counted(tmp_path):
    extra = [
        _x("cuda_profiler_range", "counters", 1_700_000_000_000_100, 1),
        _x("cpu_op", "broken", 1_700_000_000_000_100, -5),
    ]
    t = opened(write(tmp_path / "e.json", small_trace(extra=extra)))
    assert t.meta["kineto.unused_categories"] == "cuda_profiler_range=1"
    assert t.meta["kineto.invalid_events"] == "1"
    assert "broken" not in t.table("nvtx_ranges").column("name").to_pylist()


def test_overlapping_events_are_kept_and_counted(tmp_path):
    """Kineto can write partially overlapping slices on one thread; they load, nest as well as they can, and the
    count is in trace_meta (not an error)."""
    extra = [_x("cpu_op", "a", 1_700_000_000_000_120, 20), _x("cpu_op", "b", 1_700_000_000_000_130, 20)]
    t = opened(write(tmp_path / "o.json", small_trace(extra=extra)))
    assert int(t.meta["kineto.partially_overlapping_ranges"]) >= 1
    assert {"a", "b"} <= set(t.table("nvtx_ranges").column("name").to_pylist())


def test_very_long_strings(tmp_path):
    """A 20 MB kernel name is larger than DuckDB's default JSON object limit: it still loads."""
    doc = small_trace()
    doc["traceEvents"][4]["name"] = "k" * (20 << 20)
    t = opened(write(tmp_path / "long.json", doc))
    assert t.sql("SELECT length(name) AS n FROM kernels")["n"].tolist() == [20 << 20]


@pytest.mark.parametrize(
    "content, message",
    [
        (b'{"traceEvents": [{"ph": "X", "cat": "cpu_op"', "not valid JSON"),
        (b'{"name": "package", "version": "1.0"}', "without a traceEvents array"),
        (b"[1, 2, 3]", "not a list of Chrome trace events"),
        (b'{"traceEvents": []}', "no PyTorch profiler events"),
        (b'[{"foo": 1}]', "no PyTorch profiler events"),
    ],
)
def test_bad_json_one_line_exit_2(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(TraceInputError, match=message):
        opened(path)
    r = run_cli("stats", str(path), "--no-cache")
    assert r.returncode == 2
    assert r.stderr.startswith("inferscope: error:") and len(r.stderr.strip().splitlines()) == 1
    assert "Traceback" not in r.stderr


def test_truncated_gzip_one_line_exit_2(tmp_path):
    data = gzip.compress(json.dumps(small_trace()).encode())
    path = tmp_path / "cut.json.gz"
    path.write_bytes(data[: len(data) // 2])
    r = run_cli("stats", str(path), "--cache-dir", str(tmp_path / "cache"))
    assert r.returncode == 2 and "truncated or corrupt gzip" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert not any((tmp_path / "cache").rglob("*.parquet"))  # nothing half-written


@needs_kineto
@pytest.mark.parametrize(
    "name", sorted(p.name for p in KINETO_TRACES.glob("*.json.gz")) if KINETO_TRACES.exists() else []
)
def test_shared_traces_counts_match_the_json(open_trace, name):
    """Row counts per model table equal the event counts per category in the file (read independently here)."""
    path = KINETO_TRACES / name
    events = json.loads(gzip.decompress(path.read_bytes()))["traceEvents"]
    want = {"kernels": 0, "memcpy": 0, "memset": 0, "api_calls": 0, "sync_events": 0}
    table_of = {
        "kernel": "kernels",
        "gpu_memcpy": "memcpy",
        "gpu_memset": "memset",
        "cuda_runtime": "api_calls",
        "cuda_driver": "api_calls",
        "cuda_sync": "sync_events",
    }
    ranges = 0
    for e in events:
        if e.get("ph") == "X" and e.get("cat") in table_of:
            want[table_of[e["cat"]]] += 1
        elif e.get("ph") == "X" and e.get("cat") in (
            "cpu_op",
            "user_annotation",
            "gpu_user_annotation",
            "python_function",
        ):
            ranges += 1
    t = open_trace(path)
    got = {name: t.table(name).num_rows for name in want}
    assert got == want
    assert t.table("nvtx_ranges").num_rows == ranges
    # every GPU operation's launching process is a host process of the trace
    orphans = t.sql("SELECT count(*) AS n FROM kernels WHERE pid NOT IN (SELECT pid FROM processes)")["n"][0]
    assert orphans == 0


@needs_kineto
def test_stats_reports_on_kineto(open_trace):
    """Every nsys-style report with data works on a Kineto trace; kernel totals equal the JSON's sums."""
    path = KINETO_TRACES / "v100_rank1_train.json.gz"
    events = json.loads(gzip.decompress(path.read_bytes()))["traceEvents"]
    kernel_ns = sum(round(e["dur"] * 1000) for e in events if e.get("cat") == "kernel")
    runtime_calls = sum(1 for e in events if e.get("cat") == "cuda_runtime")
    t = open_trace(path)
    kern = t.stats("cuda_gpu_kern_sum").df()
    assert kern["Total Time (ns)"].sum() == kernel_ns
    api = t.stats("cuda_api_sum").df()
    assert api["Num Calls"].sum() == runtime_calls
    assert len(t.stats("cuda_gpu_mem_time_sum").df()) > 0 and len(t.stats("cuda_gpu_mem_size_sum").df()) > 0
    exec_sum = t.stats("cuda_kern_exec_sum").df()
    assert (
        exec_sum["Count"].sum()
        == t.sql("SELECT count(*) AS n FROM kernels k JOIN api_calls a USING (pid, correlation_id)")["n"][0]
    )
    r = run_cli("stats", str(path), "-f", "json", "--cache-dir", str(t.cache_entry.parent))
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["cuda_gpu_kern_sum"] and out["osrt_sum"] == []
    annotations = [e for e in events if e.get("cat") == "user_annotation"]
    assert sum(r["Instances"] for r in out["nvtx_sum"]) == len(annotations)
    assert sum(r["Total Time (ns)"] for r in out["nvtx_sum"]) == sum(round(e["dur"] * 1000) for e in annotations)
    gb = t.stats("cuda_gpu_kern_gb_sum").df()
    assert gb["Instances"].sum() == sum(1 for e in events if e.get("cat") == "kernel")


@needs_kineto
@pytest.mark.parametrize(
    "name, has_gpu",
    [
        ("amd_mi250_rocm.json.gz", True),
        ("cpu_only.json.gz", False),
        ("edge_no_rank.json.gz", False),
        ("edge_no_distributed_info.json.gz", False),
        ("triton_example.json.gz", True),
    ],
)
def test_edge_traces_analyse(open_trace, name, has_gpu):
    """AMD, CPU-only, no rank, no distributedInfo and Triton traces load and every HTA view runs; what a trace
    lacks shows as empty results, not errors."""
    t = open_trace(KINETO_TRACES / name)
    views = [
        "hta_temporal_breakdown",
        "hta_kernel_type_breakdown",
        "hta_idle_time_breakdown",
        "hta_kernel_launch_stats",
        "hta_queue_length_summary",
        "hta_memory_bw_summary",
        "hta_comm_comp_overlap",
        "hta_input_pipeline_steps",
        "hta_kernel_stats",
    ]
    results = {v: t.sql(f"SELECT * FROM {v}") for v in views}
    assert (len(results["hta_temporal_breakdown"]) > 0) == has_gpu
    for report in ("cuda_gpu_kern_sum", "cuda_api_sum", "nvtx_sum"):
        t.stats(report)
    missing = set(t.meta.get("kineto.missing", "").split(",")) - {""}
    assert ("gpu_activity" in missing) == (not has_gpu)
    assert ("rank" in missing) == ("rank" not in t.meta)
    if name in ("edge_no_rank.json.gz", "edge_no_distributed_info.json.gz"):
        assert "rank" in missing


@needs_kineto
def test_amd_trace_hip_launches(open_trace):
    t = open_trace(KINETO_TRACES / "amd_mi250_rocm.json.gz")
    launches = t.sql("SELECT api_name, count(*) AS n FROM hta_launch_calls GROUP BY 1 ORDER BY 1")
    assert "hipLaunchKernel" in launches["api_name"].tolist()
    assert t.sql("SELECT count(*) AS n FROM nvtx_ranges WHERE category = 'gpu_user_annotation'")["n"][0] == 2


@needs_kineto
def test_cli_query_on_shared_rank_dir(tmp_path):
    """A directory of two shared rank files (ranks 3 and 1) through the CLI."""
    d = tmp_path / "ranks"
    d.mkdir()
    shutil.copy(KINETO_TRACES / "ab_control_a100.json.gz", d / "a.json.gz")
    shutil.copy(KINETO_TRACES / "ab_test_v100.json.gz", d / "b.json.gz")
    r = run_cli("query", str(d), "SELECT device_id, count(*) AS n FROM kernels GROUP BY 1 ORDER BY 1", "-f", "json")
    assert r.returncode == 0, r.stderr
    assert [row["device_id"] for row in json.loads(r.stdout)] == [101, 303]
