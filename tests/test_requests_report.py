"""Issue 22, the per-request section of the reports: TTFT and token-gap distributions as charts with the load
generator's own p50/p90/p99 marked, and the slowest requests with what the GPU did while each was in flight.

Expectations come from the raw request file (the H200 serving loop's, in AIPerf's record format) in plain
Python: its TTFTs and chunk gaps, their percentiles by numpy's default linear method, its slowest requests.
"""

from __future__ import annotations

import json
import re

import pytest

from inferscope.render import report, report_data
from tests import requests_oracle as oracle

pytestmark = pytest.mark.skipif(not oracle.KINETO.exists(), reason="shared H200 serving trace missing")


def _percentile(values, q):
    xs = sorted(values)
    k = (len(xs) - 1) * q
    f = int(k)
    return xs[f] + (xs[min(f + 1, len(xs) - 1)] - xs[f]) * (k - f)


def _records():
    return [json.loads(line) for line in oracle.KINETO_REQUESTS.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    import inferscope

    t = inferscope.open(oracle.KINETO, cache_dir=tmp_path_factory.mktemp("cache"))
    analysis = t.analyze(requests=oracle.KINETO_REQUESTS)
    return t, analysis, report_data.build(t, analysis)


def test_the_charts_hold_every_request_and_mark_aiperfs_percentiles(built):
    _, _, data = built
    recs = _records()
    ttft = sorted(r["metrics"]["ttft"]["value"] for r in recs)
    gaps = sorted(g for r in recs for g in r["metrics"]["inter_chunk_latency"]["value"])
    assert data.request_ttft_ms == pytest.approx(ttft, abs=1e-6)  # AIPerf writes ms with six decimals
    assert data.request_gap_ms == pytest.approx(gaps, abs=1e-6)
    for tag, values in (("ttft", ttft), ("inter_chunk_latency", gaps)):
        assert data.request_marks[tag] == pytest.approx([_percentile(values, q) for q in (0.5, 0.9, 0.99)], rel=1e-9)

    html = report.render(data, "html")
    section = html[html.index('<section id="serving">') : html.index("</section>", html.index('id="serving"'))]
    for label, values in (("time to first token", ttft), ("gaps between streamed tokens", gaps)):
        svg = re.search(rf'<svg[^>]*aria-label="Distribution of {label}".*?</svg>', section, re.S)
        assert svg, label
        for name, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99)):
            assert f"{name} {_percentile(values, q):,.2f} ms" in svg.group(0)


def test_the_slowest_requests_are_listed_with_their_gpu_breakdown(built):
    _, _, data = built
    slowest = sorted(_records(), key=lambda r: -r["metrics"]["request_latency"]["value"])[:5]
    expected = [r["metadata"]["x_request_id"] for r in slowest]
    assert [q["request_id"] for q in data.serving_slowest] == expected
    for q, r in zip(data.serving_slowest, slowest):
        assert q["e2e_ns"] / 1e6 == pytest.approx(r["metrics"]["request_latency"]["value"], abs=1e-6)
        assert re.fullmatch(r"(\w[\w/ ]* \d+%)(, \w[\w/ ]* \d+%)*", q["kernels"]), q["kernels"]
        assert q["idle"].startswith("host ")  # the eager decode loop is host-bound (PROVENANCE.md)

    html = report.render(data, "html")
    table = html[html.index('<table id="slowest-requests">') :]
    table = table[: table.index("</table>")]
    assert re.findall(r'<td class="mono">([^<]+)</td>', table) == expected
    md = report.render(data, "md")
    assert [m for m in re.findall(r"^\| `(req-\d+)` \|", md, re.M)] == expected


def test_without_requests_the_report_has_no_request_section(built, tmp_path):
    t, _, _ = built
    import inferscope

    plain = inferscope.open(oracle.KINETO, cache_dir=tmp_path)
    data = report_data.build(plain, plain.analyze())
    assert not data.request_ttft_ms and not data.serving_slowest and not data.request_marks
    html = report.render(data, "html")
    assert 'id="serving"' not in html and "Distribution of time to first token" not in html
