"""Time per token from the trace itself (issue 20): where the steps name the tokens they processed (vLLM's
scheduler-step annotation execute_context_N(T)_generation_M(G)), compare gates on step time per token, so that a
step doing more tokens is not read as a slower step and a uniformly slower run is.

The real trace is the H200 continuous-batching recording (147 annotated scheduler steps); its edits are built here
and named by the edit. What each test expects is restated from the raw JSON in plain Python (step times as
docs/ci.md defines them, tokens from the annotation names), never taken from InferScope.
"""

from __future__ import annotations

import re
import statistics

import pytest

from tests import kineto_edits as edits
from tests.conftest import TRACES, compare_json, needs_shared
from tests.test_compare_gate import row, steady, step_times

pytestmark = needs_shared

SERVING = TRACES / "h200" / "h200_serving_continuous_batching.json.gz"
VLLM = re.compile(r"^execute_context_(\d+)\((\d+)\)_generation_(\d+)\((\d+)\)")


# A naming no built-in pattern knows, with the same four counts: a project's own engine
OWN = re.compile(r"^engine_step ctx=(\d+)/(\d+) gen=(\d+)/(\d+)")
# the same counts under a name the built-in step patterns find (a decode range), so no --step-pattern is needed
OWN_DECODE = re.compile(r"^decode ctx=(\d+)/(\d+) gen=(\d+)/(\d+)")


def tokens(doc: dict, naming: re.Pattern = VLLM) -> list[int]:
    return [int(m.group(2)) + int(m.group(4)) for m in (naming.match(s["name"]) for s in edits.steps(doc, naming))]


def per_token_ns(path, naming: re.Pattern = VLLM) -> float:
    """Summed step time over summed tokens, over the steps compare keeps (the warm-up rule restated)."""
    doc = edits.read(path)
    times, counts = step_times(doc, naming), tokens(doc, naming)
    kept = steady(times)
    counts = counts[len(times) - len(kept) :]
    return 1e3 * sum(kept) / sum(counts)  # the raw file's µs as ns


def more_tokens(src, dst, factor: int = 2):
    """Every step annotation claims `factor` times the tokens; nothing else changes (bigger batches at the same
    speed)."""
    doc = edits.load(src)

    def double(m: re.Match) -> str:
        n, t, g, rest = m.group(1), int(m.group(2)), m.group(3), int(m.group(4))
        return f"execute_context_{n}({factor * t})_generation_{g}({factor * rest})"

    for e in doc["traceEvents"]:
        if VLLM.match(str(e.get("name", ""))):
            e["name"] = VLLM.sub(double, e["name"], count=1)
    return edits.save(doc, dst)


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("per_token")


def test_uniformly_slower_serving_run_fails_per_token(work, cache_dir):
    # 1.5x: prefill steps of up to 1024 tokens among 2-token decode steps make the step-to-step spread wide (a
    # 1.2x slower run is inconclusive over these 147 steps, and says how many more would decide it)
    slow = edits.stretched(SERVING, work / "serving__1.5x_slower.json.gz", 1.5)
    code, report, _ = compare_json(SERVING, slow, cache_dir=cache_dir)
    assert code == 1 and report["verdict"] == "regression"
    m = row(report, "step_time_per_token_ns")
    assert m["role"] == "primary" and m["gated"] and m["verdict"] == "regression"
    assert m["base_value"] == pytest.approx(per_token_ns(SERVING), rel=1e-6)
    assert m["new_value"] == pytest.approx(per_token_ns(slow), rel=1e-6)
    assert m["delta_pct"] == pytest.approx(50.0, abs=0.01)
    assert statistics.fmean(tokens(edits.read(SERVING))) > 100  # prefill and decode steps, 2 to 1024 tokens each


def test_more_tokens_per_step_at_the_same_speed_is_an_improvement(work, cache_dir):
    bigger = more_tokens(SERVING, work / "serving__tokens_doubled.json.gz")
    assert sum(tokens(edits.read(bigger))) == 2 * sum(tokens(edits.read(SERVING)))
    code, report, _ = compare_json(SERVING, bigger, cache_dir=cache_dir)
    assert code == 0 and report["verdict"] == "improvement", report["summary"]
    m = row(report, "step_time_per_token_ns")
    assert m["verdict"] == "improvement" and m["delta_pct"] == pytest.approx(-50.0, abs=0.01)
    assert m["new_value"] == pytest.approx(per_token_ns(bigger), rel=1e-6)
    assert row(report, "step_time_ns")["verdict"] == "unchanged"
    per_step = row(report, "tokens_per_step")
    assert per_step["role"] == "explanation" and not per_step["gated"]
    assert any(w.startswith("tokens per step ") for w in report["work_changes"]), report["work_changes"]


def test_bigger_slower_steps_that_do_more_per_second_pass(work, cache_dir):
    """Three times the tokens per step in 1.5x the step time: each step is slower, each token faster. The gate
    judges per token (improved, exit 0); step time, GPU time per step and per-call kernel time measure the bigger
    work and only explain."""
    bigger = more_tokens(SERVING, work / "serving__tokens_x3.json.gz", 3)
    both = edits.stretched(bigger, work / "serving__tokens_x3__1.5x_slower.json.gz", 1.5)
    expect = 100.0 * (per_token_ns(both) / per_token_ns(SERVING) - 1.0)
    assert expect == pytest.approx(-50.0, abs=0.01)
    code, report, _ = compare_json(SERVING, both, cache_dir=cache_dir)
    assert code == 0 and report["verdict"] == "improvement", report["summary"]
    m = row(report, "step_time_per_token_ns")
    assert m["gated"] and m["verdict"] == "improvement" and m["delta_pct"] == pytest.approx(expect, abs=0.01)
    rate = row(report, "throughput_tokens_per_s")
    assert rate["verdict"] == "improvement" and rate["new_value"] == pytest.approx(1e9 / per_token_ns(both), rel=1e-6)
    step = row(report, "step_time_ns")
    assert step["role"] == "explanation" and not step["gated"] and step["verdict"] == "worse"
    assert step["delta_pct"] == pytest.approx(50.0, abs=0.01)
    assert all(
        m["role"] == "explanation" for m in report["metrics"] if m["id"] in ("step_kernel_time_ns", "kernel_mean_ns")
    )
    assert report["summary"].startswith("step time per token -50.0 %"), report["summary"]
    assert any(w.startswith("tokens per step ") for w in report["work_changes"])


def test_no_token_counts_no_per_token_row(cache_dir):
    """Steps that do not name their tokens (ProfilerStep#N) give no per-token row rather than a guess."""
    pinned = TRACES / "h200" / "h200_h2d_pinned.json.gz"
    code, report, _ = compare_json(pinned, pinned, cache_dir=cache_dir)
    assert code == 0
    ids = ("step_time_per_token_ns", "tokens_per_step", "throughput_tokens_per_s")
    assert not [m for m in report["metrics"] if m["id"] in ids]


def own_naming(src, dst, word: str = "engine_step"):
    """Every vLLM step name rewritten into OWN's naming (OWN_DECODE's with word="decode"), the counts and any
    text after them kept."""
    doc = edits.load(src)
    n = 0
    for e in doc["traceEvents"]:
        name = str(e.get("name", ""))
        if VLLM.match(name):
            e["name"] = VLLM.sub(lambda m: f"{word} ctx={m[1]}/{m[2]} gen={m[3]}/{m[4]}", name, count=1)
            n += 1
    assert n > 100
    return edits.save(doc, dst)


def test_project_step_naming_gives_time_per_token(work, cache_dir, tmp_path):
    """A project's own engine: its steps ([steps] patterns) named with their counts ([serving] step_patterns, the
    groups the serving report reads) give time per token as vLLM's naming does, from the renamed raw file's own
    times and counts. Without the serving pattern the same steps name no counts, and there is no per-token row
    (must not guess)."""
    renamed = own_naming(SERVING, work / "serving__own_step_naming.json.gz")
    assert tokens(edits.read(renamed), OWN) == tokens(edits.read(SERVING))
    steps_only = "[steps]\npatterns = ['^engine_step ']\n"
    serving = (
        "[serving]\nstep_patterns = ['^engine_step ctx=(?P<prefill_requests>\\d+)/(?P<prefill_tokens>\\d+) "
        "gen=(?P<decode_requests>\\d+)/(?P<decode_tokens>\\d+)']\n"
    )
    configured, plain = tmp_path / "configured", tmp_path / "plain"
    for folder, text in ((configured, steps_only + serving), (plain, steps_only)):
        folder.mkdir()
        (folder / "inferscope.toml").write_text(text)

    slow = edits.stretched(renamed, work / "serving__own_step_naming__1.5x_slower.json.gz", 1.5)
    saved = tmp_path / "base.parquet"
    code, report, err = compare_json(renamed, slow, "--save-base", saved, cache_dir=cache_dir, cwd=configured)
    assert code == 1 and report["verdict"] == "regression", err[-2000:]
    # the baseline keeps the patterns it was taken with, and compares as its trace under them
    code, from_saved, err = compare_json(saved, slow, cache_dir=cache_dir, cwd=configured)
    assert code == 1 and row(from_saved, "step_time_per_token_ns") == row(report, "step_time_per_token_ns"), err
    m = row(report, "step_time_per_token_ns")
    assert m["role"] == "primary" and m["gated"] and m["verdict"] == "regression"
    assert m["base_value"] == pytest.approx(per_token_ns(renamed, OWN), rel=1e-6)
    assert m["base_value"] == pytest.approx(per_token_ns(SERVING), rel=1e-6)  # the same steps and counts
    assert m["new_value"] == pytest.approx(per_token_ns(slow, OWN), rel=1e-6)
    assert m["delta_pct"] == pytest.approx(50.0, abs=0.01)

    code, report, err = compare_json(renamed, renamed, cache_dir=cache_dir, cwd=plain)
    assert code == 0, err[-2000:]
    assert row(report, "step_time_ns")["base_samples"] > 100  # the steps are found
    ids = ("step_time_per_token_ns", "tokens_per_step", "throughput_tokens_per_s")
    assert not [m for m in report["metrics"] if m["id"] in ids]


def test_project_step_naming_without_analysis_metrics(work, cache_dir, tmp_path):
    """`--no-analysis-metrics` skips the analysis engine, which otherwise loads the [serving] patterns: the counts
    must still be read (steps found by the built-in patterns here, as decode ranges)."""
    renamed = own_naming(SERVING, work / "serving__own_decode_naming.json.gz", "decode")
    project = tmp_path / "project"
    project.mkdir()
    pattern = r"^decode ctx=(?P<prefill_requests>\d+)/(?P<prefill_tokens>\d+) gen=(?P<decode_requests>\d+)/(?P<decode_tokens>\d+)"
    (project / "inferscope.toml").write_text(f"[serving]\nstep_patterns = ['{pattern}']\n")
    code, report, err = compare_json(renamed, renamed, "--no-analysis-metrics", cache_dir=cache_dir, cwd=project)
    assert code == 0, err[-2000:]
    assert not [m for m in report["metrics"] if m["id"].startswith("metric:")]
    m = row(report, "step_time_per_token_ns")
    assert m["gated"] and m["base_value"] == pytest.approx(per_token_ns(renamed, OWN_DECODE), rel=1e-6)
    assert m["base_value"] == pytest.approx(per_token_ns(SERVING), rel=1e-6)
    # from Python, one pattern may be given bare, as Trace.analyze takes it
    import inferscope

    c = inferscope.compare(renamed, renamed, analysis_metrics=False, serving_patterns=pattern, cache_dir=cache_dir)
    (api,) = [r for r in c.metrics if r.id == "step_time_per_token_ns"]
    assert api.base_value == pytest.approx(m["base_value"], rel=1e-9)
