"""Issue 22, GenAI-Perf's per-request export (profile_export.json) read as a request file.

No GenAI-Perf run of the shared sample exists, so the file is a CONVERSION made here in plain Python from the
shared AIPerf run (aiperf/gptoss20b_streaming_c100/profile_export.jsonl), in the layout perf_analyzer writes for
an OpenAI chat endpoint: each completed request becomes one whose text-carrying chunks arrive at AIPerf's times
(sent + ttft, then + each inter-chunk latency), framed by the chunks GenAI-Perf does not count (the role-only
first chunk, the usage chunk, [DONE]); each cancelled request becomes one with no response. The per-request
numbers must then equal what the AIPerf records say, and the run summary AIPerf's own profile_export_aiperf.json.
The trace is the edited copy of a real nsys export that test_requests_aiperf.py builds (session start moved under
the run).
"""

from __future__ import annotations

import gzip
import json

import pytest

import inferscope
from inferscope.errors import TraceInputError
from tests.conftest import run_cli
from tests.test_requests_aiperf import BASE_TRACE, RECORDS, SUMMARY, _shifted_copy, assert_summary_is_aiperfs

pytestmark = pytest.mark.skipif(not RECORDS.exists() or not BASE_TRACE.exists(), reason="shared traces missing")


def _records() -> list[dict]:
    return [json.loads(line) for line in RECORDS.read_text().splitlines() if line.strip()]


def _ns(ms: float) -> int:
    return round(ms * 1e6)


def _sse(body: dict | str) -> dict:
    return {"response": f"data: {body if isinstance(body, str) else json.dumps(body)}\n\n"}


def _chunk(delta: dict) -> dict:
    return _sse({"id": "c", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": delta}]})


def genai_perf_conversion(records: list[dict], usage: bool = True) -> dict:
    """CONVERSION: the AIPerf records as GenAI-Perf's profile_export.json (see the module docstring); `usage`:
    whether the stream ends with an OpenAI usage chunk (the only token counts such a file can hold)."""
    requests = []
    for rec in records:
        sent = rec["metadata"]["timestamp_ns"]
        req = {"timestamp": sent, "request_inputs": {"payload": '{"stream": true}'}}
        if rec.get("error"):
            requests.append({**req, "response_timestamps": [], "response_outputs": []})
            continue
        m = rec["metrics"]
        times = [sent + _ns(m["ttft"]["value"])]
        for gap in m["inter_chunk_latency"]["value"]:
            times.append(times[-1] + _ns(gap))
        stamps = [sent + (times[0] - sent) // 2] + times
        outputs = [_chunk({"role": "assistant"})] + [_chunk({"content": f"t{i}"}) for i in range(len(times))]
        if usage:
            counts = {
                "prompt_tokens": m["input_sequence_length"]["value"],
                "completion_tokens": m["output_sequence_length"]["value"],
                "completion_tokens_details": {"reasoning_tokens": m["reasoning_token_count"]["value"]},
            }
            stamps.append(times[-1] + 1)
            outputs.append(_sse({"id": "c", "object": "chat.completion.chunk", "choices": [], "usage": counts}))
        stamps.append(stamps[-1] + 1)
        outputs.append(_sse("[DONE]"))
        requests.append({**req, "response_timestamps": stamps, "response_outputs": outputs})
    return {
        "experiments": [{"experiment": {"mode": "concurrency", "value": 100}, "requests": requests}],
        "version": "",
        "service_kind": "openai",
        "endpoint": "v1/chat/completions",
    }


@pytest.fixture(scope="module")
def converted(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("genai_perf")
    paths = {}
    for name, usage in (("with_usage", True), ("without_usage", False)):
        path = folder / f"gptoss20b_c100.converted_to_genai_perf_{name}.profile_export.json"
        path.write_text(json.dumps(genai_perf_conversion(_records(), usage)))  # one line, as perf_analyzer writes
        paths[name] = path
    return paths


@pytest.fixture(scope="module")
def trace(tmp_path_factory, cache_dir):
    first = min(r["metadata"]["timestamp_ns"] for r in _records())
    path, session = _shifted_copy(tmp_path_factory.mktemp("edit"), "under_genai_perf_run", first - 200_000_000)
    t = inferscope.open(path, cache_dir=cache_dir)
    yield t, session
    t.close()


def test_format_is_told_from_content_not_name(trace, converted, tmp_path):
    t, _ = trace
    misnamed = tmp_path / "profile_export.jsonl"  # AIPerf's name, GenAI-Perf's content, gzip-compressed
    misnamed.write_bytes(gzip.compress(converted["with_usage"].read_bytes()))
    assert t.attach_requests(misnamed)["requests.source"] == "genai-perf"
    assert t.rows("SELECT DISTINCT source FROM serving_requests").rows == [("genai-perf",)]
    assert t.attach_requests(RECORDS)["requests.source"] == "aiperf"
    assert t.rows("SELECT DISTINCT source FROM serving_requests").rows == [("aiperf",)]


def test_per_request_numbers_equal_the_aiperf_records(trace, converted):
    t, session = trace
    facts = t.attach_requests(converted["with_usage"])
    raw = _records()
    assert facts["requests.count"] == str(len(raw))
    assert facts["requests.errors"] == str(sum(1 for r in raw if r.get("error")))
    assert facts["requests.offset_ns"] == str(-session)
    rows = {
        r["request_id"]: r
        for r in t.rows(
            "SELECT request_id, status, start_ns, first_token_ns, end_ns, ttft_ns, ttst_ns, dur_ns, itl_ns, chunks, "
            "input_tokens, output_tokens, reasoning_tokens, credit_phase FROM requests"
        ).to_pylist()
    }
    gaps = {}
    for rid, latency in t.rows(
        "SELECT request_id, latency_ns FROM request_chunks ORDER BY request_id, chunk_index"
    ).rows:
        gaps.setdefault(rid, []).append(latency)
    assert len(rows) == len(raw)
    for j, rec in enumerate(raw, 1):
        row = rows[f"#{j}"]
        assert row["start_ns"] == rec["metadata"]["timestamp_ns"] - session
        assert row["credit_phase"] == "concurrency=100"
        if rec.get("error"):  # cancelled before any response: GenAI-Perf has no cancellation, only no response
            assert row["status"] == "error" and row["ttft_ns"] is None and row["end_ns"] is None
            assert f"#{j}" not in gaps
            continue
        m = rec["metrics"]
        assert row["status"] == "ok"
        assert row["ttft_ns"] == _ns(m["ttft"]["value"])
        assert row["first_token_ns"] - row["start_ns"] == _ns(m["ttft"]["value"])
        assert row["dur_ns"] == row["end_ns"] - row["start_ns"] == _ns(m["request_latency"]["value"])
        assert row["ttst_ns"] == _ns(m["ttst"]["value"])
        assert gaps[f"#{j}"] == [_ns(g) for g in m["inter_chunk_latency"]["value"]]
        assert row["chunks"] == len(m["inter_chunk_latency"]["value"])
        assert row["itl_ns"] / 1e6 == pytest.approx(m["inter_token_latency"]["value"], rel=1e-12)
        assert row["input_tokens"] == m["input_sequence_length"]["value"]
        assert row["output_tokens"] == m["output_sequence_length"]["value"]
        assert row["reasoning_tokens"] == m["reasoning_token_count"]["value"]


def test_summary_equals_aiperfs_own(trace, converted):
    t, _ = trace
    t.attach_requests(converted["with_usage"])
    assert_summary_is_aiperfs(t)


def test_without_usage_token_counts_stay_null(trace, converted):
    """The file holds no token counts without a usage chunk: NULL, and no statistic that needs them."""
    t, _ = trace
    t.attach_requests(converted["without_usage"])
    assert t.rows(
        "SELECT count(*) FILTER (WHERE status = 'ok'), count(input_tokens), count(output_tokens), "
        "count(reasoning_tokens), count(itl_ns) FROM requests"
    ).rows == [(sum(1 for r in _records() if not r.get("error")), 0, 0, 0, 0)]
    got = {r["tag"]: r for r in t.rows("SELECT * FROM request_summary").to_pylist()}
    expected = json.loads(SUMMARY.read_text())["records"]
    for tag in ("inter_token_latency", "output_sequence_length", "input_sequence_length", "total_osl"):
        assert tag not in got, tag
    for tag in ("ttft", "ttst", "request_latency", "inter_chunk_latency", "benchmark_duration", "request_count"):
        for stat in ("avg", "p50", "p99", "max"):
            if expected[tag][stat] is not None:
                assert got[tag][stat] == pytest.approx(expected[tag][stat], rel=1e-12), (tag, stat)


def _one_request(**changes) -> dict:
    doc = genai_perf_conversion(_records()[-1:])
    doc["experiments"][0]["requests"][0].update(changes)
    return doc


# a whole document, or the changes to one converted request (built in the test: the shared records are read only
# where they exist, so a checkout without them skips instead of failing to collect)
@pytest.mark.parametrize(
    "doc, message",
    [
        ({"experiments": {}}, "`experiments` is not a list"),
        ({"experiments": [{"experiment": {}}]}, "experiment 1 has no `requests` list"),
        ({"experiments": [{"requests": []}]}, "no request records"),
        ({"one_request": {"timestamp": "soon"}}, "experiment 1 request 1: no integer `timestamp`"),
        ({"one_request": {"response_timestamps": [1.5]}}, "`response_timestamps` is not a list of integers"),
        ({"one_request": {"timestamp": 5, "response_timestamps": [7, 9]}}, "timestamp 5 is not UTC ns since 1970"),
        (
            {"one_request": {"response_outputs": [{"response": "data: {oops\n\n"}]}},
            "response 1: response data is not JSON",
        ),
    ],
)
def test_bad_genai_perf_file_is_one_line(trace, tmp_path, doc, message):
    if "one_request" in doc:
        doc = _one_request(**doc["one_request"])
    t, _ = trace
    bad = tmp_path / "profile_export.json"
    bad.write_text(json.dumps(doc))
    with pytest.raises(TraceInputError, match=message) as info:
        t.attach_requests(bad)
    assert "\n" not in str(info.value)


def test_cli_bad_genai_perf_file_exits_2_in_one_line(cache_dir, tmp_path):
    bad = tmp_path / "profile_export.json"
    bad.write_text(json.dumps(_one_request(timestamp=5, response_timestamps=[7, 9])))
    out = tmp_path / "never.json"
    r = run_cli("analyze", str(BASE_TRACE), "--requests", str(bad), "--cache-dir", str(cache_dir), "-o", str(out))
    assert r.returncode == 2, r.stderr
    assert r.stderr.count("\n") == 1 and "not UTC ns" in r.stderr and "Traceback" not in r.stderr
    assert not out.exists()


def test_an_error_event_and_a_silent_request_are_errors_not_latencies(trace, tmp_path):
    """Negative cases: a stream that carried an error event, and one whose chunks carried no text."""
    t, _ = trace
    doc = genai_perf_conversion(_records()[-2:])
    failed, silent = doc["experiments"][0]["requests"]
    failed["response_outputs"][1] = _sse({"error": {"message": "KV cache full", "code": 503}})
    silent["response_outputs"] = [_chunk({"role": "assistant"})] * len(silent["response_timestamps"])
    path = tmp_path / "profile_export.json"
    path.write_text(json.dumps(doc))
    t.attach_requests(path)
    rows = {
        r[0]: r[1:]
        for r in t.rows("SELECT request_id, status, error_code, error_type, error_message, ttft_ns FROM requests").rows
    }
    assert rows["#1"] == ("error", 503, "error event", "KV cache full", None)
    assert rows["#2"][:3] == ("error", None, "no response") and rows["#2"][4] is None
    assert "no response carried text" in rows["#2"][3]


def test_a_sweep_keeps_each_experiment_apart_by_label(trace, tmp_path):
    """EDIT of the conversion: the run split into two experiments (a sweep), the second labelled request_rate 2.0."""
    t, _ = trace
    doc = genai_perf_conversion(_records())
    reqs = doc["experiments"][0]["requests"]
    doc["experiments"] = [
        {"experiment": {"mode": "concurrency", "value": 100}, "requests": reqs[:40]},
        {"experiment": {"mode": "request_rate", "value": 2.0}, "requests": reqs[40:]},
    ]
    path = tmp_path / "sweep.profile_export.json"
    path.write_text(json.dumps(doc))
    t.attach_requests(path)
    rows = t.rows("SELECT credit_phase, count(*), min(request_id), max(request_id) FROM requests GROUP BY 1 ORDER BY 1")
    assert rows.rows == [
        ("concurrency=100", 40, "concurrency=100#1", "concurrency=100#9"),
        ("request_rate=2.0", len(reqs) - 40, "request_rate=2.0#1", "request_rate=2.0#9"),
    ]
