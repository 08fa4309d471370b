"""Issue 22, request ingest and alignment: AIPerf's profile_export.jsonl read beside a trace.

The oracle for the summary is AIPerf's own profile_export_aiperf.json of the same run (the shared sample). The
sample came without a GPU trace, so alignment is tested on edited copies of a real nsys export whose session start
(TARGET_INFO_SESSION_START_TIME) is moved so that the trace's span lies under the run's window, or after it; what
each request's placement should be is computed here in plain Python from the raw files (json, sqlite3).
"""

from __future__ import annotations

import json
import shutil
import sqlite3

import pytest

import inferscope
from inferscope.errors import TraceInputError
from tests.conftest import TRACES

AIPERF = TRACES / "aiperf" / "gptoss20b_streaming_c100"
RECORDS = AIPERF / "profile_export.jsonl"
SUMMARY = AIPERF / "profile_export_aiperf.json"
BASE_TRACE = TRACES / "nsys" / "h200_nvfuser_matmul_nsys2024.6.sqlite"
STATS = ("avg", "min", "max", "p1", "p5", "p25", "p50", "p75", "p90", "p95", "p99", "std", "count")

pytestmark = pytest.mark.skipif(not RECORDS.exists() or not BASE_TRACE.exists(), reason="shared traces missing")


def _records() -> list[dict]:
    return [json.loads(line) for line in RECORDS.read_text().splitlines() if line.strip()]


def _raw_span(path) -> tuple[int, int]:
    """The trace's first start and last end over GPU work, CUDA API calls and NVTX ranges, read with sqlite3."""
    con = sqlite3.connect(path)
    lo, hi = [], []
    for table, where in (
        ("CUPTI_ACTIVITY_KIND_KERNEL", ""),
        ("CUPTI_ACTIVITY_KIND_MEMCPY", ""),
        ("CUPTI_ACTIVITY_KIND_MEMSET", ""),
        ("CUPTI_ACTIVITY_KIND_RUNTIME", ""),
        ("NVTX_EVENTS", " WHERE end IS NOT NULL"),
    ):
        try:
            a, b = con.execute(f"SELECT min(start), max(end) FROM {table}{where}").fetchone()
        except sqlite3.OperationalError:
            continue
        if a is not None:
            lo.append(a)
            hi.append(b)
    con.close()
    return min(lo), max(hi)


def _shifted_copy(tmp_path, name: str, trace_start_utc: int) -> tuple:
    """EDIT: a copy of BASE_TRACE whose session start is moved so that its first event falls at
    `trace_start_utc` (UTC ns); nothing else changes. Returns (path, session start written)."""
    path = tmp_path / f"{BASE_TRACE.stem}.session_start_moved_{name}.sqlite"
    shutil.copyfile(BASE_TRACE, path)
    lo, _ = _raw_span(path)
    session = trace_start_utc - lo
    con = sqlite3.connect(path)
    con.execute("UPDATE TARGET_INFO_SESSION_START_TIME SET utcEpochNs = ?", [session])
    con.commit()
    con.close()
    return path, session


def _expected_placement(rec: dict, session: int, span: tuple[int, int]) -> str:
    start = rec["metadata"]["timestamp_ns"] - session
    latency = rec["metrics"].get("request_latency", {}).get("value")
    last = start + round(latency * 1e6) if latency is not None else start
    if last < span[0]:
        return "before"
    if start > span[1]:
        return "after"
    return "inside" if start >= span[0] and last <= span[1] else "partial"


@pytest.fixture(scope="module")
def under_window(tmp_path_factory, cache_dir):
    """The copy whose span starts 200 ms before the run's first request (the burst of sends lies inside it)."""
    first = min(r["metadata"]["timestamp_ns"] for r in _records())
    path, session = _shifted_copy(tmp_path_factory.mktemp("edit"), "under_aiperf_run", first - 200_000_000)
    t = inferscope.open(path, cache_dir=cache_dir)
    facts = t.attach_requests(RECORDS)
    yield t, facts, session, _raw_span(path)
    t.close()


def assert_summary_is_aiperfs(t) -> None:
    """request_summary equals AIPerf's own profile_export_aiperf.json, metric by metric and statistic by
    statistic (AIPerf takes its statistics on ns and scales them; summation order leaves the last bits)."""
    expected = json.loads(SUMMARY.read_text())["records"]
    got = {r["tag"]: r for r in t.rows("SELECT * FROM request_summary").to_pylist()}
    assert set(got) == set(expected)
    for tag, want in expected.items():
        assert got[tag]["unit"] == want["unit"], tag
        for stat in STATS:
            if want[stat] is None:
                assert got[tag][stat] is None, (tag, stat)
            else:
                assert got[tag][stat] == pytest.approx(want[stat], rel=1e-12, abs=0), (tag, stat)


def test_summary_reproduces_aiperfs_own(under_window):
    t, _, _, _ = under_window
    assert_summary_is_aiperfs(t)


def test_cancelled_requests_are_kept_and_counted_as_errors(under_window):
    t, facts, _, _ = under_window
    summary = json.loads(SUMMARY.read_text())
    raw_errors = [r for r in _records() if r.get("error")]
    rows = t.rows(
        "SELECT status, error_code, error_type, count(*) AS n, count(end_ns) AS ended FROM requests "
        "WHERE status <> 'ok' GROUP BY ALL"
    ).to_pylist()
    assert rows == [
        {
            "status": "cancelled",
            "error_code": e["error_details"]["code"],
            "error_type": e["error_details"]["type"],
            "n": e["count"],
            "ended": 0,
        }
        for e in summary["error_summary"]
    ]
    assert sum(e["count"] for e in summary["error_summary"]) == len(raw_errors)
    assert facts["requests.cancelled"] == str(len(raw_errors))
    assert facts["requests.count"] == str(len(_records()))


def test_alignment_offset_and_placement_under_the_window(under_window):
    t, facts, session, span = under_window
    assert facts["requests.offset_ns"] == str(-session)
    assert facts["requests.offset_uncertainty_ns"] == "1"
    assert "TARGET_INFO_SESSION_START_TIME" in facts["requests.clock_anchor"]
    assert facts["requests.trace_span"] == f"{span[0]}..{span[1]}"
    expected = {r["metadata"]["x_request_id"]: _expected_placement(r, session, span) for r in _records()}
    got = dict(t.rows("SELECT request_id, placement FROM requests").rows)
    assert got == expected
    for where in ("inside", "partial", "before", "after"):
        assert facts[f"requests.placement.{where}"] == str(list(expected.values()).count(where))
    assert {"inside", "partial"} <= set(expected.values())  # the edit puts the burst of sends inside the span
    # the trace_meta table says the same as the returned facts
    meta = dict(t.rows("SELECT key, value FROM trace_meta WHERE key LIKE 'requests.%'").rows)
    assert meta == facts


def test_times_on_the_trace_clock(under_window):
    t, _, session, _ = under_window
    raw = {r["metadata"]["x_request_id"]: r for r in _records() if not r.get("error")}
    rows = t.rows(
        "SELECT request_id, start_ns, first_token_ns, end_ns, itl_ns, chunks FROM requests WHERE status = 'ok'"
    )
    for rid, start, first, end, itl, chunks in rows.rows:
        m = raw[rid]["metrics"]
        assert start == raw[rid]["metadata"]["timestamp_ns"] - session
        assert first - start == round(m["ttft"]["value"] * 1e6)
        assert end - start == round(m["request_latency"]["value"] * 1e6)
        assert chunks == len(m["inter_chunk_latency"]["value"])
        assert itl / 1e6 == pytest.approx(m["inter_token_latency"]["value"], rel=1e-12)
    last = t.rows(
        "SELECT c.request_id, max(c.ts_ns) - min(r.first_token_ns) FROM request_chunks c "
        "JOIN requests r USING (request_id) GROUP BY 1"
    ).rows
    for rid, after_first in last:
        assert after_first == sum(round(v * 1e6) for v in raw[rid]["metrics"]["inter_chunk_latency"]["value"])


def test_requests_outside_the_window_are_counted_not_dropped(tmp_path, cache_dir):
    last_end = max(
        r["metadata"]["timestamp_ns"] + round(r["metrics"].get("request_latency", {}).get("value", 0) * 1e6)
        for r in _records()
    )
    path, session = _shifted_copy(tmp_path, "after_aiperf_run", last_end + 1_000_000_000)
    with inferscope.open(path, cache_dir=cache_dir) as t:
        facts = t.attach_requests(RECORDS)
        assert facts["requests.placement.before"] == str(len(_records()))
        assert facts["requests.placement.inside"] == facts["requests.placement.partial"] == "0"
        assert t.rows("SELECT count(*) FROM requests").rows[0][0] == len(_records())


@pytest.mark.parametrize(
    "content, message",
    [
        ("not json\n", "not JSON"),
        ('{"metrics": {}}\n', "no metadata.timestamp_ns"),
        ("", "no request records"),
    ],
)
def test_bad_request_file_is_one_line(tmp_path, under_window, content, message):
    t, _, _, _ = under_window
    bad = tmp_path / "requests.jsonl"
    bad.write_text(content)
    with pytest.raises(TraceInputError, match=message) as info:
        t.attach_requests(bad)
    assert "\n" not in str(info.value)


def test_without_a_clock_anchor_requests_are_unanchored_and_the_summary_stands(tmp_path, cache_dir):
    """EDIT: the copy's TARGET_INFO_SESSION_START_TIME row deleted: no UTC anchor, so no trace-clock times."""
    path = tmp_path / f"{BASE_TRACE.stem}.session_start_removed.sqlite"
    shutil.copyfile(BASE_TRACE, path)
    con = sqlite3.connect(path)
    con.execute("DELETE FROM TARGET_INFO_SESSION_START_TIME")
    con.commit()
    con.close()
    with inferscope.open(path, cache_dir=cache_dir) as t:
        facts = t.attach_requests(RECORDS)
        assert facts["requests.placement.unanchored"] == str(len(_records()))
        assert "requests.offset_ns" not in facts and facts["requests.clock_anchor"].startswith("none")
        assert t.rows("SELECT count(start_ns), count(*) FROM requests").rows == [(0, len(_records()))]
        expected = json.loads(SUMMARY.read_text())["records"]
        got = dict(t.rows("SELECT tag, avg FROM request_summary").rows)
        for tag in ("benchmark_duration", "request_throughput", "output_token_throughput", "ttft"):
            assert got[tag] == pytest.approx(expected[tag]["avg"], rel=1e-12), tag


def test_repeated_request_ids_stay_distinct(tmp_path, under_window):
    t, _, _, _ = under_window
    lines = RECORDS.read_text().splitlines()
    doubled = tmp_path / "doubled.jsonl"
    doubled.write_text("\n".join(lines + lines) + "\n")
    try:
        t.attach_requests(doubled)
        n, distinct = t.rows("SELECT count(*), count(DISTINCT request_id) FROM requests").rows[0]
        assert n == distinct == 2 * len(lines)
    finally:
        t.attach_requests(RECORDS)  # the module's other tests read the original file


def test_analysis_of_the_shifted_copy_joins_what_overlaps(under_window):
    """A trace without serving steps: the serving block still says what overlapped the GPU, and no step rule fires."""
    t, facts, session, span = under_window
    a = t.analyze()
    block = a.to_dict()["serving"]
    expected = [r for r in _records() if _expected_placement(r, session, span) in ("inside", "partial")]
    joined = [r for r in expected if not r.get("error")]
    assert block["serving"]["joined"] == len(joined)
    assert block["alignment"]["placement.partial"] == facts["requests.placement.partial"]
    assert block["serving"]["prefill_steps"] == block["serving"]["decode_steps"] == 0
    assert not [f for f in a.findings if f.rule_id.startswith("serving_")]
    got = {r["tag"]: r["avg"] for r in block["summary"]}
    assert got["request_count"] == json.loads(SUMMARY.read_text())["records"]["request_count"]["avg"]
