"""Issue 22, the join: per request, what the GPU and the serving loop did while it was in flight.

On the shared H200 serving recordings (PROVENANCE.md, h200/): the Nsight Systems export with its request file,
checked request by request against an independent computation in plain Python over the raw files
(tests/requests_oracle.py: sqlite3 for the export, json for the requests); and the PyTorch-profiler recording with
its request file, checked against the figures PROVENANCE gives by construction (requests in flight 99.6 % of the
GPU span, up to 23 at once for 16 slots, eager decode host-bound with the GPU ~18 % busy, every prefill stalling
every running decode), computed here from the raw JSON as well.
"""

from __future__ import annotations

import pytest

import inferscope
from tests import requests_oracle as oracle

pytestmark = pytest.mark.skipif(
    not oracle.NSYS_GZ.exists() or not oracle.KINETO.exists(), reason="shared H200 traces missing"
)


@pytest.fixture(scope="module")
def nsys_raw(tmp_path_factory):
    return oracle.nsys_raw(tmp_path_factory.mktemp("h200"))


@pytest.fixture(scope="module")
def nsys_trace(nsys_raw, cache_dir):
    t = inferscope.open(nsys_raw[0], cache_dir=cache_dir)
    t.attach_requests(oracle.NSYS_REQUESTS)
    yield t
    t.close()


def test_nsys_per_request_join_matches_the_raw_files(nsys_raw, nsys_trace):
    _, _, steps, busy, requests = nsys_raw
    expected = oracle.expected(requests, steps, busy)
    got = {r["request_id"]: r for r in nsys_trace.rows("SELECT * FROM request_gpu").to_pylist()}
    assert set(got) == set(requests)
    for rid, want in expected.items():
        row = got[rid]
        assert (row["start_ns"], row["first_token_ns"], row["end_ns"]) == tuple(
            requests[rid][k] for k in ("start", "first", "end")
        )
        for key, value in want.items():
            if isinstance(value, float):
                assert row[key] == pytest.approx(value, rel=1e-12), (rid, key)
            else:
                assert row[key] == value, (rid, key)
    # every request found its own prefill, which started after it was sent and ended before its first token
    assert all(row["prefill_step_id"] is not None for row in got.values())


def test_nsys_serving_summary_matches_the_raw_files(nsys_raw, nsys_trace):
    _, _, steps, busy, requests = nsys_raw
    s = nsys_trace.rows("SELECT * FROM serving_summary").to_pylist()[0]
    conc = oracle.union([(a, b) for a, b, c in oracle.in_flight(requests) if c > 0])
    lo, hi = steps[0]["start"], max(x["end"] for x in steps)
    assert s["in_flight_step_span_pct"] == pytest.approx(100.0 * oracle.overlap(conc, lo, hi) / (hi - lo))
    gpu_lo, gpu_hi = busy[0][0], busy[-1][1]
    assert s["in_flight_gpu_span_pct"] == pytest.approx(
        100.0 * oracle.overlap(conc, gpu_lo, gpu_hi) / (gpu_hi - gpu_lo)
    )
    assert s["max_in_flight"] == max(c for _, _, c in oracle.in_flight(requests))
    decode = [x for x in steps if x["n"] == 0 and x["m"] > 0]
    decode_busy = (
        100.0
        * sum(oracle.overlap(busy, x["start"], x["end"]) for x in decode)
        / sum(x["end"] - x["start"] for x in decode)
    )
    assert s["decode_gpu_busy_pct"] == pytest.approx(decode_busy)
    assert s["decode_gpu_busy_pct"] < 50  # the eager decode loop is host-bound here too
    assert s["slots_seen"] == max(x["m"] for x in steps) == 16
    pairs = oracle.hol_pairs(requests, steps)
    assert s["hol_stalled_pct"] == pytest.approx(100.0 * sum(pairs) / len(pairs))
    assert s["hol_stalled_pct"] == 100.0  # each prefill stalls every running decode


def test_kineto_serving_figures_are_provenances(cache_dir):
    steps, busy, requests = oracle.kineto_raw()
    with inferscope.open(oracle.KINETO, cache_dir=cache_dir) as t:
        facts = t.attach_requests(oracle.KINETO_REQUESTS)
        s = t.rows("SELECT * FROM serving_summary").to_pylist()[0]
    assert "baseTimeNanoseconds" in facts["requests.clock_anchor"]
    assert facts["requests.placement.inside"] == str(len(requests))
    # independent figures from the raw JSON
    conc = oracle.union([(a, b) for a, b, c in oracle.in_flight(requests) if c > 0])
    gpu_lo, gpu_hi = busy[0][0], busy[-1][1]
    in_flight_pct = 100.0 * oracle.overlap(conc, gpu_lo, gpu_hi) / (gpu_hi - gpu_lo)
    decode = [x for x in steps if x["n"] == 0 and x["m"] > 0]
    decode_busy = (
        100.0
        * sum(oracle.overlap(busy, x["start"], x["end"]) for x in decode)
        / sum(x["end"] - x["start"] for x in decode)
    )
    pairs = oracle.hol_pairs(requests, steps)
    assert s["in_flight_gpu_span_pct"] == pytest.approx(in_flight_pct, abs=0.01)  # µs timestamps -> ns
    assert s["decode_gpu_busy_pct"] == pytest.approx(decode_busy, abs=0.05)
    assert s["max_in_flight"] == max(c for _, _, c in oracle.in_flight(requests))
    assert s["hol_stalled_pct"] == pytest.approx(100.0 * sum(pairs) / len(pairs))
    # ... and they are PROVENANCE's truth by construction
    assert round(s["in_flight_gpu_span_pct"], 1) == 99.6
    assert s["max_in_flight"] == 23 and s["slots_seen"] == 16
    assert 17 <= s["decode_gpu_busy_pct"] <= 19
    assert s["hol_stalled_pct"] == 100.0


def test_one_request_concept_two_sources(nsys_trace, open_trace):
    """serving_requests: the attached records (aiperf) and the annotation-named requests (annotation_requests)."""
    rows = nsys_trace.rows("SELECT source, count(*), count(first_token_ns) FROM serving_requests GROUP BY 1").rows
    assert rows == [("aiperf", 32, 32)]
    from tests.conftest import SAMPLES

    annotated = open_trace(SAMPLES / "annotated_inference_nsys2022.4.sqlite")
    both = annotated.rows(
        "SELECT s.request_id, s.start_ns, s.first_token_ns, s.end_ns, s.ttft_ns, a.start_ns, a.first_token_ns, "
        "a.end_ns, a.ttft_ns FROM serving_requests s JOIN annotation_requests a ON a.request = s.request_id "
        "WHERE s.source = 'annotation'"
    ).rows
    assert both and all(r[1:5] == r[5:9] for r in both)
    assert len(both) == annotated.rows("SELECT count(*) FROM annotation_requests").rows[0][0]


def test_nsys_tail_the_slowest_token_gaps_are_the_prefills(nsys_raw, nsys_trace):
    _, _, steps, _, requests = nsys_raw
    n, tail_share, rest_share = oracle.chunk_tail(requests, steps)
    got = {r["part"]: r for r in nsys_trace.rows("SELECT * FROM request_tail WHERE metric = 'chunk_gap'").to_pylist()}
    assert got["tail"]["n"] == n
    assert got["tail"]["prefill_overlap_pct"] == pytest.approx(tail_share)
    assert got["rest"]["prefill_overlap_pct"] == pytest.approx(rest_share)
    assert tail_share == 100.0 and rest_share < 50  # what the slowest 1 % of token waits have: a prefill
    ttft = {r["part"]: r for r in nsys_trace.rows("SELECT * FROM request_tail WHERE metric = 'ttft'").to_pylist()}
    ttfts = [r["first"] - r["start"] for r in requests.values()]
    tail = [v for v in ttfts if v >= min(oracle.p99(ttfts), max(ttfts))]
    assert ttft["tail"]["n"] == len(tail) >= 1
    assert ttft["tail"]["mean_ns"] == pytest.approx(sum(tail) / len(tail))


def test_nsys_gpu_breakdown_per_request(nsys_raw, nsys_trace):
    path, _, _, busy, requests = nsys_raw
    ops = oracle.nsys_ops_by_class(path)
    rows = nsys_trace.rows("SELECT request_id, dimension, label, time_ns FROM request_gpu_breakdown").rows
    got = {(rid, dim, label): ns for rid, dim, label, ns in rows}
    for rid in sorted(requests)[::8]:  # every 8th request: each is a scan of all 64k operations in Python
        r = requests[rid]
        want = {}
        for s, e, label in ops:
            if s < r["end"] and e > r["start"]:
                want[label] = want.get(label, 0) + min(e, r["end"]) - max(s, r["start"])
        assert {k[2]: v for k, v in got.items() if k[:2] == (rid, "kernel_class")} == want, rid
        # the idle causes split exactly the time the GPU was idle while the request was in flight
        idle = sum(v for k, v in got.items() if k[:2] == (rid, "idle_cause"))
        assert idle == (r["end"] - r["start"]) - oracle.overlap(busy, r["start"], r["end"]), rid
