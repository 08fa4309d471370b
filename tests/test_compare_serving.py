"""The serving gate (issues 20 and 22): with a load generator's request file on both sides, compare gates TTFT and
inter-token latency at p50 and p99 and output tokens/s.

The traces are real (the H200 continuous-batching serving loop); the request files are the shared ones or copies
of them edited here, each named by its edit. Expected figures come from the request files read with plain Python
(percentiles by linear interpolation, AIPerf's method), never from InferScope.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import TRACES, compare_json, needs_shared, run_cli

pytestmark = needs_shared

H200 = TRACES / "h200"
SERVING = H200 / "h200_serving_continuous_batching.json.gz"
REQUESTS = H200 / "h200_serving_requests.jsonl"
AIPERF = TRACES / "aiperf" / "gptoss20b_streaming_c100" / "profile_export.jsonl"
GATES = (
    "request_ttft_p50_ns",
    "request_ttft_p99_ns",
    "request_itl_p50_ns",
    "request_itl_p99_ns",
    "request_output_tokens_per_s",
)


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def completed(path: Path) -> list[dict]:
    """The requests AIPerf counts in its latency statistics: those without an error."""
    return [r for r in records(path) if not r.get("error")]


def value(record: dict, tag: str) -> float:
    return float(record["metrics"][tag]["value"])


def expected(path: Path) -> dict[str, float]:
    """The gate's figures from the raw request file (ms -> ns; tokens/s over first send to last response)."""
    ok = completed(path)
    ttft = np.array([value(r, "ttft") for r in ok]) * 1e6
    latency = np.array([value(r, "request_latency") for r in ok]) * 1e6
    osl = np.array([value(r, "output_sequence_length") for r in ok])
    itl = [(lat - t) / (n - 1) for lat, t, n in zip(latency, ttft, osl) if n > 1]
    starts = np.array([r["metadata"]["timestamp_ns"] for r in ok], dtype=float)
    duration_s = (max(starts + latency) - min(starts)) / 1e9
    return {
        "request_ttft_p50_ns": float(np.percentile(ttft, 50)),
        "request_ttft_p99_ns": float(np.percentile(ttft, 99)),
        "request_itl_p50_ns": float(np.percentile(itl, 50)),
        "request_itl_p99_ns": float(np.percentile(itl, 99)),
        "request_output_tokens_per_s": float(osl.sum() / duration_s),
    }


def slower_first_token(source: Path, out: Path, factor: float) -> Path:
    """Edit: every request's first token arrives `factor` times later and the rest of its response moves with it
    (latency grows by the same amount), so TTFT changes and inter-token latency does not."""
    lines = []
    for r in records(source):
        m = r["metrics"]
        if "ttft" in m:
            extra = value(r, "ttft") * (factor - 1.0)
            m["ttft"]["value"] = value(r, "ttft") + extra
            m["request_latency"]["value"] = value(r, "request_latency") + extra
        lines.append(json.dumps(r))
    out.write_text("\n".join(lines) + "\n")
    return out


def repeated(source: Path, out: Path, times: int) -> Path:
    """Edit: the request file `times` over, each copy sent one run-length later (a longer run of the same load),
    so that a tail percentile rests on enough requests."""
    rs = records(source)
    starts = [r["metadata"]["timestamp_ns"] for r in rs]
    length = max(starts) - min(starts) + 10**9
    lines = []
    for i in range(times):
        for r in rs:
            copy = json.loads(json.dumps(r))
            copy["metadata"]["timestamp_ns"] += i * length
            copy["metadata"]["x_request_id"] = f"{copy['metadata'].get('x_request_id', 'r')}-{i}"
            lines.append(json.dumps(copy))
    out.write_text("\n".join(lines) + "\n")
    return out


def gate_rows(report: dict) -> dict[str, dict]:
    return {m["id"]: m for m in report["metrics"] if m["id"].startswith("request_")}


def test_same_requests_gate_unchanged_with_the_request_files_figures(cache_dir):
    """Both sides the same trace and request file: every serving gate is there, primary, unchanged, and its
    value is the request file's own figure."""
    code, report, _ = compare_json(
        SERVING, SERVING, "--base-requests", REQUESTS, "--new-requests", REQUESTS, cache_dir=cache_dir
    )
    assert code == 0
    rows = gate_rows(report)
    want = expected(REQUESTS)
    for metric in GATES:
        r = rows[metric]
        assert r["role"] == "primary" and r["verdict"] == "unchanged", r
        assert r["base_value"] == pytest.approx(want[metric], rel=1e-6)  # the model holds whole ns
    assert rows["request_latency_p50_ns"]["role"] == "explanation"


def test_slower_first_token_fails_on_ttft_and_leaves_itl_alone(cache_dir, tmp_path):
    """Edited new side (first token 3x later): TTFT p50 is a regression and leads the summary; ITL, whose
    per-request figure the edit leaves as it was, stays unchanged; the exit code is 1."""
    slow = slower_first_token(REQUESTS, tmp_path / "slow_ttft.jsonl", 3.0)
    code, report, _ = compare_json(
        SERVING, SERVING, "--base-requests", REQUESTS, "--new-requests", slow, cache_dir=cache_dir
    )
    rows = gate_rows(report)
    base, new = expected(REQUESTS), expected(slow)
    ttft = rows["request_ttft_p50_ns"]
    assert ttft["new_value"] == pytest.approx(new["request_ttft_p50_ns"], rel=1e-9)
    assert ttft["verdict"] == "regression", ttft
    assert code == 1
    assert new["request_itl_p50_ns"] == pytest.approx(base["request_itl_p50_ns"], rel=1e-9)
    assert rows["request_itl_p50_ns"]["verdict"] == "unchanged"
    assert "TTFT" in report["summary"]


def test_p99_of_few_requests_is_not_decided(cache_dir, tmp_path):
    """32 requests a side: a p99 rests on the slowest one or two, so its change is inconclusive and the reason
    says how many requests would decide it (500: five beyond the percentile)."""
    slow = slower_first_token(REQUESTS, tmp_path / "slow_ttft.jsonl", 3.0)
    _, report, _ = compare_json(
        SERVING, SERVING, "--base-requests", REQUESTS, "--new-requests", slow, cache_dir=cache_dir
    )
    p99 = gate_rows(report)["request_ttft_p99_ns"]
    assert len(completed(REQUESTS)) < 500
    assert p99["verdict"] == "inconclusive" and "need 500 samples" in p99["reason"], p99


def test_p99_of_enough_requests_is_decided(cache_dir, tmp_path):
    """The AIPerf sample six times over (534 completed requests a side; cancelled ones left out as AIPerf
    leaves them out): a 2x slower first token is a TTFT p99 regression, and the same file both sides is not."""
    base = repeated(AIPERF, tmp_path / "aiperf_x6.jsonl", 6)
    slow = slower_first_token(base, tmp_path / "aiperf_x6_slow_ttft.jsonl", 2.0)
    assert len(completed(base)) >= 500
    _, same, _ = compare_json(SERVING, SERVING, "--base-requests", base, "--new-requests", base, cache_dir=cache_dir)
    assert gate_rows(same)["request_ttft_p99_ns"]["verdict"] == "unchanged"
    code, report, _ = compare_json(
        SERVING, SERVING, "--base-requests", base, "--new-requests", slow, cache_dir=cache_dir
    )
    p99 = gate_rows(report)["request_ttft_p99_ns"]
    assert p99["base_value"] == pytest.approx(expected(base)["request_ttft_p99_ns"], rel=1e-9)
    assert p99["verdict"] == "regression", p99
    assert code == 1


def test_requests_on_one_side_only_are_said_not_gated(cache_dir):
    """Only the new side has its request file: no serving row (neither 'added' nor a regression), and a note says
    which traces had requests."""
    code, report, _ = compare_json(SERVING, SERVING, "--new-requests", REQUESTS, cache_dir=cache_dir)
    assert code == 0
    assert not gate_rows(report)
    assert any("requests are joined to 0 of 1 base trace(s) and 1 of 1 new trace(s)" in n for n in report["notes"])


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--base-requests", "missing.jsonl", "--new-requests", "missing.jsonl"], "missing.jsonl"),
        (
            ["--base-requests", str(REQUESTS), "--base-requests", str(REQUESTS), "--new-requests", str(REQUESTS)],
            "2 request files for 1 traces",
        ),
    ],
    ids=["missing-file", "count-mismatch"],
)
def test_bad_request_files_are_one_line(cache_dir, args, needle):
    r = run_cli("compare", SERVING, SERVING, *args, "--cache-dir", cache_dir)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1 and needle in lines[0], r.stderr
