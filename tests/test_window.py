"""`--window START:END` and `--skip-warmup` (issue 19): the analysis sees only that part of the trace, says which
part, and refuses a malformed window with one line (exit 2) before reading any trace.

Expected counts come from the raw Kineto JSON (times since the profiler's window start, the trace clock's zero).
"""

from __future__ import annotations

import json

import pytest

from tests import kineto_edits
from tests.conftest import TRACES, run_cli
from tests.test_warmup import CUDAGRAPH, lazy_load_copy

pytestmark = pytest.mark.skipif(not CUDAGRAPH.exists(), reason=f"shared traces not found ({TRACES})")


def _kernel_starts(path) -> list[int]:
    doc = kineto_edits.load(path)
    zero = min(e["ts"] for e in doc["traceEvents"] if e.get("cat") == "Trace")
    return [round((e["ts"] - zero) * 1000) for e in doc["traceEvents"] if e.get("cat") == "kernel"]


@pytest.mark.parametrize("text", ["3s:1s", "100:200", "abc", ":", "1s", "5 parsecs:"])
def test_a_malformed_window_is_one_line_and_exit_2(text):
    for command in (["analyze", "no-such-trace"], ["compare", "no-such-base", "no-such-new"]):
        r = run_cli(*command, "--window", text)
        assert r.returncode == 2, r.stderr
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and "--window" in lines[0] and "no-such" not in lines[0], lines


def test_window_keeps_the_kernels_that_start_inside_it(open_trace):
    """20 ms to 60 ms of the decode trace: the kernel count is the JSON's count of kernels starting in it."""
    starts = _kernel_starts(CUDAGRAPH)
    lo, hi = 20_000_000, 60_000_000
    expected = sum(lo <= s < hi for s in starts)
    assert 0 < expected < len(starts)
    t = open_trace(CUDAGRAPH)
    with t.window("20ms:60ms") as w:
        assert (w.start_ns, w.end_ns) == (lo, hi)
        assert t.sql("SELECT count(*) AS n FROM kernels")["n"][0] == expected
    assert t.sql("SELECT count(*) AS n FROM kernels")["n"][0] == len(starts)  # whole again after the block
    a = t.analyze(window="20ms:60ms")
    assert a.window["start_ns"] == lo and a.window["end_ns"] == hi and "20 ms" in a.window["text"]


def test_skip_warmup_starts_after_the_inserted_module_load(tmp_path, cache_dir):
    """An edited copy with a 350 ms module load in front: --skip-warmup analyses the work after it (the kernels the
    JSON has after the window start), the cold-start finding is gone, and the JSON states the window."""
    path, load_end, starts = lazy_load_copy(tmp_path)
    r = run_cli("analyze", path, "--skip-warmup", "-f", "json", "--cache-dir", cache_dir)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    (start,) = doc["window"]["per_pid_start_ns"].values()
    assert start >= load_end
    assert "cold_start" not in {f["rule_id"] for f in doc["findings"]}
    # the window takes the whole step the load's end falls in (the prefill): the decode steps' kernels remain
    kept = sum(s >= start for s in starts)
    assert 0 < kept < len(starts)
    (count,) = [m["value"] for m in doc["metrics"] if m["id"] == "kernel_count" and m["device_id"] is None]
    assert count == kept
    assert "--skip-warmup" in r.stderr and "analysed" in r.stderr


def test_compare_with_a_window_says_so(tmp_path, cache_dir):
    """compare --window clips both sides; the report's notes name the window of each trace."""
    r = run_cli("compare", CUDAGRAPH, CUDAGRAPH, "--window", "10ms:70ms", "-f", "json", "--cache-dir", cache_dir)
    assert r.returncode in (0, 1), r.stderr
    notes = json.loads(r.stdout)["notes"]
    assert sum("window:" in n and "10 ms" in n for n in notes) == 2, notes


@pytest.mark.parametrize("suffix", [".md", ".html", ".txt"])
def test_every_report_states_the_window_used(tmp_path, cache_dir, suffix):
    """A reader of any report format must see that only part of the trace was analysed, and which part."""
    out = tmp_path / f"report{suffix}"
    r = run_cli("analyze", CUDAGRAPH, "--window", "20ms:60ms", "-o", out, "--cache-dir", cache_dir)
    assert r.returncode == 0, r.stderr
    text = out.read_text()
    assert "Window analysed" in text and "20 ms" in text and "60 ms" in text
