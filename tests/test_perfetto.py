"""`inferscope export-perfetto`: the Chrome-trace JSON holds every model row once, with exact times, on labelled
tracks that nest the way Perfetto's JSON importer requires."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest

from inferscope.render.perfetto import FINDINGS_PID, export_perfetto, nesting_lanes, us
from tests.conftest import NSYS_REPS, NSYS_SQLITE, SAMPLES, run_cli

TRACES = NSYS_SQLITE + NSYS_REPS if NSYS_SQLITE else [SAMPLES / "h100_2gpu_fastvideo.sqlite"]


def _ns(value: float) -> int:
    return round(value * 1000)


def test_us_is_exact_decimal():
    assert us(155357525002) == "155357525.002"
    assert us(5000) == "5"
    assert us(-1500) == "-1.500"
    day = 86_400 * 10**9 + 7  # a day into the session still round-trips to the nanosecond through a JSON float
    assert _ns(float(us(day))) == day


def test_nesting_lanes_moves_only_crossing_intervals():
    # group 1: (0,10) contains (2,5); (4,12) crosses (0,10) and needs lane 1. group 2 starts fresh.
    group = np.array([1, 1, 1, 2])
    start = np.array([0, 2, 4, 4])
    end = np.array([10, 5, 12, 6])
    assert nesting_lanes(group, start, end).tolist() == [0, 0, 1, 0]
    # disjoint intervals never leave lane 0 (the vectorised path)
    assert nesting_lanes(np.zeros(3, int), np.array([0, 5, 9]), np.array([5, 9, 20])).tolist() == [0, 0, 0]


def _export(path: Path, tmp_path: Path, cache_dir: Path) -> dict:
    out = tmp_path / "trace.json"
    r = run_cli("export-perfetto", path, "-o", out, "--no-findings", "--cache-dir", cache_dir)
    assert r.returncode == 0, r.stderr
    return json.loads(out.read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", TRACES, ids=lambda p: p.name)
def test_export_matches_model(path, tmp_path, cache_dir, open_trace):
    if path.suffix == ".nsys-rep" and shutil.which("nsys") is None:
        pytest.skip("the nsys CLI is needed to export .nsys-rep files")
    doc = _export(path, tmp_path, cache_dir)
    events = doc["traceEvents"]
    t = open_trace(path)

    by_cat = defaultdict(list)
    for e in events:
        by_cat[(e["ph"], e.get("cat"))].append(e)
    expected = {
        ("X", "kernel"): "kernels",
        ("X", "memcpy"): "memcpy",
        ("X", "memset"): "memset",
        ("X", "cuda_api"): "api_calls",
        ("X", "osrt"): "osrt_calls",
        ("i", "cpu_sample"): "cpu_samples",
    }
    for key, table in expected.items():
        assert len(by_cat[key]) == t.table(table).num_rows, (key, table)
    nvtx_categories = set(t.sql("SELECT DISTINCT category FROM nvtx_ranges")["category"].dropna())
    nvtx = [e for e in events if e["ph"] == "X" and e["cat"] in nvtx_categories]
    assert len(nvtx) == t.table("nvtx_ranges").num_rows

    # Times: every kernel / API call appears with its exact ns start and duration.
    for key, table in ((("X", "kernel"), "kernels"), (("X", "cuda_api"), "api_calls"), (("X", "memcpy"), "memcpy")):
        got = sorted((_ns(e["ts"]), _ns(e["dur"])) for e in by_cat[key])
        model = t.table(table)
        want = sorted(zip(model.column("start_ns").to_pylist(), model.column("dur_ns").to_pylist()))
        assert got == want, table
    got = sorted(_ns(e["ts"]) for e in by_cat[("i", "cpu_sample")])
    assert got == sorted(t.table("cpu_samples").column("ts_ns").to_pylist())

    # Every track is labelled, and complete events on one track nest strictly (Perfetto's importer rule).
    named_proc = {e["pid"] for e in events if e["ph"] == "M" and e["name"] == "process_name"}
    named_thread = {(e["pid"], e["tid"]) for e in events if e["ph"] == "M" and e["name"] == "thread_name"}
    tracks = defaultdict(list)
    for e in events:
        if e["ph"] in ("X", "i", "s", "f"):
            assert e["pid"] in named_proc and (e["pid"], e["tid"]) in named_thread, e
        if e["ph"] == "X":
            tracks[(e["pid"], e["tid"])].append((_ns(e["ts"]), _ns(e["ts"]) + _ns(e["dur"])))
    for key, spans in tracks.items():
        stack: list[int] = []
        for s, end in sorted(spans, key=lambda x: (x[0], -x[1])):
            while stack and stack[-1] <= s:
                stack.pop()
            assert not stack or end <= stack[-1], f"crossing slices on track {key}"
            stack.append(end)

    # GPU work sits on per-device processes, one track per stream.
    for e in by_cat[("X", "kernel")]:
        assert e["pid"] >= 1 << 24
    streams = {(d, s) for d, s in t.sql("SELECT DISTINCT device_id, stream_id FROM kernels").itertuples(index=False)}
    kernel_tracks = {(e["pid"] - (1 << 24), e["tid"]) for e in by_cat[("X", "kernel")]}
    assert kernel_tracks == streams

    # Flow arrows come in pairs: launch call -> GPU work.
    starts = Counter(e["id"] for e in by_cat[("s", "launch")])
    finishes = Counter(e["id"] for e in by_cat[("f", "launch")])
    assert starts == finishes and all(v == 1 for v in starts.values())
    launched = t.sql("SELECT count(*) AS n FROM cuda_launches WHERE api_name IS NOT NULL")["n"][0]
    assert len(starts) == launched


def test_cli_exports_the_analysis_findings(tmp_path, cache_dir, open_trace):
    out = tmp_path / "t.json"
    r = run_cli("export-perfetto", SAMPLES / "h100_2gpu_fastvideo.sqlite", "-o", out, "--cache-dir", cache_dir)
    assert r.returncode == 0, r.stderr
    events = json.loads(out.read_text())["traceEvents"]
    findings = open_trace(SAMPLES / "h100_2gpu_fastvideo.sqlite").analyze().findings
    marked = [e for e in events if e.get("cat") == "finding"]
    t = open_trace(SAMPLES / "h100_2gpu_fastvideo.sqlite")
    span = tuple(t.sql("SELECT min(start_ns) AS s, max(end_ns) AS e FROM gpu_ops").iloc[0])
    expected = [w for f in findings for w in (f.windows or [span])]  # trace-wide findings span the GPU activity
    assert len(marked) == len(expected) > 0
    assert sorted((_ns(e["ts"]), _ns(e["ts"]) + _ns(e["dur"])) for e in marked) == sorted(expected)
    assert {e["args"]["rank"] for e in marked} == set(range(1, len(findings) + 1))


def test_findings_get_their_own_track(tmp_path, open_trace):
    t = open_trace(SAMPLES / "h100_2gpu_fastvideo.sqlite")
    findings = [
        {
            "rule_id": "gpu_gaps",
            "title": "GPU idle",
            "severity": "warning",
            "impact_ns": 5_000_000,
            "summary": "s",
            "recommendation": "r",
            "windows": [(100, 300), (200, 400)],
        },
        {"rule_id": "sync_stall", "title": "<b>sync</b>", "impact_ns": 10, "windows": [{"start_ns": 5, "end_ns": 9}]},
    ]
    out = export_perfetto(t, tmp_path / "f.json", findings=findings)
    events = json.loads(out.read_text())["traceEvents"]
    marked = [e for e in events if e.get("cat") == "finding"]
    assert [(e["name"], _ns(e["ts"]), _ns(e["dur"])) for e in marked] == [
        ("GPU idle", 100, 200),
        ("GPU idle", 200, 200),
        ("<b>sync</b>", 5, 4),
    ]
    assert {e["pid"] for e in marked} == {FINDINGS_PID}
    # the two overlapping windows of finding #1 cross, so one is moved to an overlap track
    assert len({e["tid"] for e in marked}) == 3
    meta = {e["args"]["name"] for e in events if e["ph"] == "M" and e["pid"] == FINDINGS_PID and "name" in e["args"]}
    assert "InferScope findings" in meta and "#1 gpu_gaps" in meta and "#1 gpu_gaps overlap 1" in meta


def test_missing_output_directory_is_one_line_error(tmp_path, cache_dir):
    out = tmp_path / "nope" / "t.json"
    r = run_cli(
        "export-perfetto", SAMPLES / "h100_2gpu_fastvideo.sqlite", "-o", out, "--no-findings", "--cache-dir", cache_dir
    )
    assert r.returncode == 2
    assert r.stderr.strip().startswith("inferscope: error:") and len(r.stderr.strip().splitlines()) == 1
    assert not out.parent.exists()


def _trace_processor() -> str | None:
    import os

    return os.environ.get("INFERSCOPE_TRACE_PROCESSOR") or shutil.which("trace_processor_shell")


@pytest.mark.skipif(
    _trace_processor() is None,
    reason="Perfetto's trace_processor_shell is not installed: the "
    "`perfetto` PyPI package only downloads it at run time (no network here); set "
    "INFERSCOPE_TRACE_PROCESSOR=/path/to/trace_processor_shell to run this check",
)
def test_perfetto_trace_processor_imports_everything(tmp_path, cache_dir, open_trace):
    path = SAMPLES / "h100_2gpu_fastvideo.sqlite"
    _export(path, tmp_path, cache_dir)
    query = tmp_path / "q.sql"
    query.write_text("SELECT category, count(*) AS n FROM slice GROUP BY category ORDER BY category;")
    r = subprocess.run(
        [_trace_processor(), "-q", str(query), str(tmp_path / "trace.json")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    counts = {line.split(",")[0].strip('"'): int(line.split(",")[1]) for line in r.stdout.splitlines()[1:] if line}
    t = open_trace(path)
    assert counts.get("kernel") == t.table("kernels").num_rows
    assert counts.get("cuda_api") == t.table("api_calls").num_rows


def test_window_keeps_exactly_the_overlapping_events(tmp_path, cache_dir, open_trace):
    path = SAMPLES / "h100_2gpu_fastvideo.sqlite"
    out = tmp_path / "w.json"
    r = run_cli("export-perfetto", path, "-o", out, "--window", "100:150.5", "--cache-dir", cache_dir)
    assert r.returncode == 0, r.stderr
    events = json.loads(out.read_text())["traceEvents"]
    t = open_trace(path)
    t0 = t.sql("SELECT min(start_ns) AS t0 FROM gpu_ops")["t0"][0]
    lo, hi = t0 + 100_000_000, t0 + 150_500_000
    for cat, table in (("kernel", "kernels"), ("cuda_api", "api_calls"), ("nvtx", "nvtx_ranges")):
        got = sorted(_ns(e["ts"]) for e in events if e.get("cat") == cat)
        want = t.sql(f"SELECT start_ns FROM {table} WHERE end_ns >= {lo} AND start_ns <= {hi} ORDER BY 1")
        assert got == want["start_ns"].tolist() and got, cat
    marked = [e for e in events if e.get("cat") == "finding"]
    assert all(_ns(e["ts"]) <= hi and _ns(e["ts"]) + _ns(e["dur"]) >= lo for e in marked)
    bad = run_cli("export-perfetto", path, "-o", out, "--window", "9:3", "--cache-dir", cache_dir)
    assert bad.returncode == 2 and bad.stderr.startswith("inferscope: error: --window '9:3'")
