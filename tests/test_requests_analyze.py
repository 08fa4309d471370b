"""Issue 22, the serving section of an analysis: findings with evidence when a request file is attached
(`Trace.analyze(requests=...)`, `inferscope analyze TRACE --requests FILE`), and nothing new without one.

Expectations come from the raw files through tests/requests_oracle.py (plain Python), never from InferScope.
"""

from __future__ import annotations

import json

import jsonschema
import pytest

import inferscope
from tests import requests_oracle as oracle
from inferscope.analyze.result import Analysis
from tests.conftest import REPO, run_cli

SCHEMA = json.loads((REPO / "inferscope" / "schemas" / "analysis-v1.schema.json").read_text())

pytestmark = pytest.mark.skipif(
    not oracle.NSYS_GZ.exists() or not oracle.KINETO.exists(), reason="shared H200 traces missing"
)


def test_nsys_analysis_has_the_serving_findings_with_evidence(tmp_path, cache_dir):
    path, _, steps, busy, requests = oracle.nsys_raw(tmp_path)
    with inferscope.open(path, cache_dir=cache_dir) as t:
        a = t.analyze(requests=oracle.NSYS_REQUESTS)
    fired = {f.rule_id: f for f in a.findings if f.rule_id.startswith("serving_")}
    assert set(fired) == {"serving_host_bound_decode", "serving_head_of_line", "serving_slot_queueing"}
    decode = [x for x in steps if x["n"] == 0 and x["m"] > 0]
    # host-bound decode: every decode step, its impact the decode time in which the GPU sat idle
    assert fired["serving_host_bound_decode"].evidence_total == len(decode)
    assert fired["serving_host_bound_decode"].impact_ns == sum(
        (x["end"] - x["start"]) - oracle.overlap(busy, x["start"], x["end"]) for x in decode
    )
    # head-of-line: the prefills that ran while another request was decoding, their time
    hol = [
        x
        for x in steps
        if x["n"] > 0 and any(r["first"] <= x["start"] and r["end"] >= x["end"] for r in requests.values())
    ]
    assert fired["serving_head_of_line"].evidence_total == len(hol)
    assert fired["serving_head_of_line"].impact_ns == sum(x["end"] - x["start"] for x in hol)
    # queueing: requests that waited at least half their TTFT before their own prefill started
    expected = oracle.expected(requests, steps, busy)
    ttft = {rid: r["first"] - r["start"] for rid, r in requests.items()}
    queued = {rid: e["queue_ns"] for rid, e in expected.items() if e["queue_ns"] >= 0.5 * ttft[rid]}
    assert fired["serving_slot_queueing"].evidence_total == len(queued)
    assert fired["serving_slot_queueing"].impact_ns == sum(queued.values())
    doc = a.to_dict()
    assert doc["serving"]["serving"]["joined"] == len(requests)
    assert doc["serving"]["alignment"]["placement.inside"] == str(len(requests))
    assert [r["request_id"] for r in doc["serving"]["slowest_ttft"]] == sorted(ttft, key=lambda k: -ttft[k])[:5]


def test_cli_requests_option(cache_dir, tmp_path):
    out = tmp_path / "a.json"
    r = run_cli(
        "analyze",
        str(oracle.KINETO),
        "--requests",
        str(oracle.KINETO_REQUESTS),
        "--cache-dir",
        str(cache_dir),
        "-o",
        str(out),
    )
    assert r.returncode == 0, r.stderr
    doc = json.loads(out.read_text())
    jsonschema.validate(doc, SCHEMA)
    assert Analysis.from_dict(doc).serving == doc["serving"]  # a saved analysis keeps its serving block
    _, _, requests = oracle.kineto_raw()
    assert doc["serving"]["serving"]["max_in_flight"] == max(c for _, _, c in oracle.in_flight(requests))
    assert {f["rule_id"] for f in doc["findings"]} >= {"serving_host_bound_decode", "serving_head_of_line"}
    text = run_cli(
        "analyze", str(oracle.KINETO), "--requests", str(oracle.KINETO_REQUESTS), "--cache-dir", str(cache_dir)
    )
    assert text.returncode == 0 and "Serving" in text.stdout and "up to 23 at once for 16 batch slots" in text.stdout


@pytest.mark.parametrize("content", ["{not json\n", '{"metadata": {}}\n'])
def test_cli_bad_request_file_is_one_line(cache_dir, tmp_path, content):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(content)
    r = run_cli("analyze", str(oracle.KINETO), "--requests", str(bad), "--cache-dir", str(cache_dir))
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and str(bad) in r.stderr and "Traceback" not in r.stderr
    missing = run_cli("analyze", str(oracle.KINETO), "--requests", str(tmp_path / "none.jsonl"))
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1


def test_a_trace_without_requests_has_no_serving_block(cache_dir):
    with inferscope.open(oracle.KINETO, cache_dir=cache_dir) as t:
        a = t.analyze()
    assert a.serving is None and "serving" not in a.to_dict()
    assert not [r for r in a.rules if r.id.startswith("serving_")]
    assert not [f for f in a.findings if f.rule_id.startswith("serving_")]


def test_reports_carry_the_serving_block_only_with_requests(cache_dir):
    from inferscope.render import render

    _, _, requests = oracle.kineto_raw()
    most = max(c for _, _, c in oracle.in_flight(requests))
    with inferscope.open(oracle.KINETO, cache_dir=cache_dir) as t:
        plain_md = render(t.analyze(), "md", trace=t)
        a = t.analyze(requests=oracle.KINETO_REQUESTS)
        md, html = render(a, "md", trace=t), render(a, "html", trace=t)
    assert "### Serving" not in plain_md
    assert "### Serving" in md and f"up to {most} at once" in md
    assert '<section id="serving">' in html and f"up to {most} at once" in html
