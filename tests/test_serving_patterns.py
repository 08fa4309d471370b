"""Issue 22, serving steps beyond the three built-in namings: a project's own step naming (a regex with named
groups, from the configuration or `Trace.analyze(serving_patterns=...)`), and, where nothing names the steps, the
phase read from the attention kernel families the trace's step ranges launched.

The edited copies change names only and say so in their file names: the H200 serving loop's vLLM-style steps
renamed into a made-up engine's naming (`sched_tick#I pf=N/T dc=M/G`), the B200 vLLM step renamed to a bare
`step 1` (and in one copy half of its attention kernels renamed to TensorRT-LLM's generation form). What each test
expects is computed from the JSON (and the request file) in plain Python: tests/requests_oracle.py for the serving
loop, and here the phase families written out again as Python regexes over the raw kernel names.
"""

from __future__ import annotations

import gzip
import json
import re

import pytest

from tests import kineto_edits
from tests import requests_oracle as oracle
from tests.conftest import REPO, TRACES, run_cli

B200 = TRACES / "kineto" / "vllm_gptoss_b200_tp8_rank0_eager.json.gz"
DECODE_EAGER = TRACES / "h200" / "h200_llm_decode_eager.json.gz"
VLLM_STEP = re.compile(r"^execute_context_(\d+)\(([\d_]*)\)_generation_(\d+)\(([\d_]*)\)")
TICK = r"^sched_tick#\d+ pf=(?P<prefill_requests>\d+)/(?P<prefill_tokens>\d+) dc=(?P<decode_requests>\d+)/(?P<decode_tokens>\d+)$"
# The attention families whose kernel names state the serving phase, as this test reads them from the raw names
# (written independently of sql/views/attention_phase_patterns.sql).
PREFILL_KERNEL = re.compile(r"fmha.*context|(batch|single)prefill", re.I)
DECODE_KERNEL = re.compile(r"fmha.*(forgen|generation)|(batch|single)decode|paged_attention_v[12]", re.I)

needs_h200 = pytest.mark.skipif(not oracle.KINETO.exists(), reason="shared H200 serving trace missing")
needs_b200 = pytest.mark.skipif(not B200.exists(), reason="shared B200 vLLM trace missing")


def _ticks(tmp_path):
    """The serving loop with every step annotation renamed to `sched_tick#I pf=N/T dc=M/G` (CPU and GPU-timeline
    copies alike); nothing else changes."""
    doc = kineto_edits.load(oracle.KINETO)
    i = 0
    for e in sorted(doc["traceEvents"], key=lambda e: e.get("ts", 0)):
        m = oracle.STEP.match(str(e.get("name", "")))
        if m and e.get("ph") == "X":
            n, t, g, gt = m.groups()
            e["name"] = f"sched_tick#{i} pf={n}/{t} dc={g}/{gt}"
            i += e.get("cat") == "user_annotation"
    return kineto_edits.save(doc, tmp_path / "h200_serving_steps_renamed_sched_tick.json.gz")


def _b200(tmp_path, step_name: str, gen_every: int = 0):
    """The B200 vLLM trace with its one step annotation renamed to `step_name`, and (gen_every > 0) every
    gen_every-th context FMHA kernel renamed to the same kernel's generation form (`...PersistentSwapsAbForGen`)."""
    doc = kineto_edits.load(B200)
    seen = 0
    for e in doc["traceEvents"]:
        if VLLM_STEP.match(str(e.get("name", ""))):
            e["name"] = step_name
        elif gen_every and e.get("cat") == "kernel" and e["name"].endswith("PersistentContext"):
            seen += 1
            if seen % gen_every == 0:
                e["name"] = e["name"][: -len("PersistentContext")] + "PersistentSwapsAbForGen"
    tag = re.sub(r"\W+", "_", step_name)
    return kineto_edits.save(doc, tmp_path / f"b200_step_renamed_{tag}{'_gen_kernels' if gen_every else ''}.json.gz")


def _window_families(path, window_name: re.Pattern):
    """Per host range whose name matches `window_name` (in start order): (prefill kernels, decode kernels)
    launched inside it, from the raw JSON: a kernel belongs to the range when the runtime call with its
    correlation id started inside the range, in the range's process."""
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        events = json.load(fh)["traceEvents"]
    windows = sorted(
        (e["ts"], e["ts"] + e["dur"], e["pid"])
        for e in events
        if e.get("cat") == "user_annotation" and e.get("ph") == "X" and window_name.match(str(e.get("name", "")))
    )
    calls = {
        (e["pid"], e["args"]["correlation"]): e["ts"]
        for e in events
        if e.get("cat") in ("cuda_runtime", "cuda_driver") and "correlation" in (e.get("args") or {})
    }
    out = []
    for lo, hi, pid in windows:
        pre = dec = 0
        for e in events:
            if e.get("cat") != "kernel":
                continue
            ts = calls.get((pid, e["args"].get("correlation")))
            if ts is None or not lo <= ts < hi:
                continue
            pre += bool(PREFILL_KERNEL.search(e["name"]))
            dec += bool(DECODE_KERNEL.search(e["name"])) and not PREFILL_KERNEL.search(e["name"])
        out.append((pre, dec))
    return out


# ------------------------------------------------------------------------------------ the project's own naming
@needs_h200
def test_own_naming_gives_the_steps_counts_and_head_of_line_blocking(tmp_path, open_trace):
    steps, _, requests = oracle.kineto_raw()
    t = open_trace(_ticks(tmp_path))
    assert not len(t.sql("SELECT * FROM serving_steps")), "the made-up naming is no built-in one"
    a = t.analyze(requests=oracle.KINETO_REQUESTS, serving_patterns=[TICK])
    got = t.sql(
        "SELECT kind, start_ns, end_ns, context_requests, generation_requests, evidence FROM serving_steps "
        "ORDER BY step_id"
    )
    assert got["kind"].tolist() == ["prefill" if s["n"] and not s["m"] else "decode" for s in steps]
    assert got["context_requests"].tolist() == [s["n"] for s in steps]
    assert got["generation_requests"].tolist() == [s["m"] for s in steps]
    assert (got["end_ns"] - got["start_ns"]).tolist() == pytest.approx([s["end"] - s["start"] for s in steps], abs=1000)
    assert set(got["evidence"]) == {f"user serving step pattern {TICK!r}"}
    hol = [
        s
        for s in steps
        if s["n"] > 0 and any(r["first"] <= s["start"] and r["end"] >= s["end"] for r in requests.values())
    ]
    (found,) = [f for f in a.findings if f.rule_id == "serving_head_of_line"]
    assert found.evidence_total == len(hol) > 0


@needs_b200
def test_kind_group_and_a_pattern_matching_nothing(tmp_path, open_trace):
    """A `kind` group labels the step from its word; a pattern that matches no range leaves the built-in steps as
    they were, row for row."""
    t = open_trace(_b200(tmp_path, "batch#1 phase=CONTEXT"))
    t.analyze(serving_patterns=[r"^batch#\d+ phase=(?P<kind>[A-Za-z]+)$"])
    got = t.sql("SELECT kind, context_requests, evidence FROM serving_steps")
    assert got["kind"].tolist() == ["prefill"] and got["context_requests"].isna().all()
    assert got["evidence"].tolist() == [r"user serving step pattern '^batch#\\d+ phase=(?P<kind>[A-Za-z]+)$'"]

    original = open_trace(B200)
    before = original.sql("SELECT * FROM serving_steps ORDER BY step_id")
    original.analyze(serving_patterns=[r"^never_named (?P<kind>\w+)$"])
    after = original.sql("SELECT * FROM serving_steps ORDER BY step_id")
    assert len(before) == 1 and before.equals(after)
    assert after["evidence"].tolist() == ["annotation execute_context_N(T)_generation_M(G) (vLLM step naming)"]


@needs_b200
@pytest.mark.parametrize(
    "pattern, says",
    [
        (r"^step (?P<kind>\w+", "not a regular expression"),
        (r"^step (?P<phase>\w+)$", "unknown group name phase"),
        (r"^step (?P<prefill_requests>\d+)$", "names neither a (?P<kind>...) group"),
        (r"^step(?=x) (?P<kind>\w+)$", "not a valid regular expression"),  # Python accepts it, RE2 does not
    ],
)
def test_bad_patterns_are_refused_by_name(open_trace, pattern, says):
    from inferscope.errors import QueryError

    with pytest.raises(QueryError) as err:
        open_trace(B200).analyze(serving_patterns=[pattern])
    assert says in str(err.value) and "\n" not in str(err.value)


def test_bad_configured_pattern_is_one_line_exit_2(tmp_path):
    (tmp_path / "inferscope.toml").write_text("[serving]\nstep_patterns = ['^tick (?P<batch>[0-9]+)$']\n")
    trace = REPO / "sample_traces" / "annotated_inference_nsys2022.4.sqlite"
    out = run_cli("analyze", trace, "-o", tmp_path / "out.json", cwd=tmp_path)
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    assert "serving.step_patterns" in out.stderr and "unknown group name batch" in out.stderr
    assert not (tmp_path / "out.json").exists()


# ------------------------------------------------------------------------------- phases from kernel families
@needs_b200
def test_unnamed_step_is_labelled_from_its_attention_kernels(tmp_path, open_trace):
    path = _b200(tmp_path, "step 1")
    ((pre, dec),) = _window_families(path, re.compile(r"^step 1$"))
    assert pre > 0 and dec == 0
    got = open_trace(path).sql("SELECT kind, context_requests, evidence FROM serving_steps")
    assert got["kind"].tolist() == ["prefill"] and got["context_requests"].isna().all()
    (evidence,) = got["evidence"]
    assert evidence.startswith(f"attention kernel families trtllm_fmha_context (prefill, {pre} kernels) ")
    assert "'step 1'" in evidence and "no engine step names" in evidence


@needs_b200
def test_a_step_with_both_families_is_mixed(tmp_path, open_trace):
    path = _b200(tmp_path, "step 1", gen_every=2)
    ((pre, dec),) = _window_families(path, re.compile(r"^step 1$"))
    assert pre > 0 and dec > 0
    got = open_trace(path).sql("SELECT kind, evidence FROM serving_steps")
    assert got["kind"].tolist() == ["mixed"]
    assert f"trtllm_fmha_context (prefill, {pre} kernels)" in got["evidence"][0]
    assert f"trtllm_fmha_generation (decode, {dec} kernels)" in got["evidence"][0]


@pytest.mark.skipif(not DECODE_EAGER.exists(), reason="shared H200 decode trace missing")
def test_no_label_where_the_kernels_name_no_phase(open_trace):
    """The H200 generation's prefill and decode ranges run cuDNN's SDPA flash kernel in both phases: its name says
    neither, so every step range stays unlabelled (the raw names are read here: no kernel of a phase family)."""
    families = _window_families(DECODE_EAGER, re.compile(r"^(prefill|decode_step)$"))
    assert len(families) == 65 and set(families) == {(0, 0)}
    got = open_trace(DECODE_EAGER).sql("SELECT kind, evidence FROM serving_steps")
    assert len(got) == 65 and got["kind"].isna().all()
    assert all(e.endswith("(unlabelled)") for e in got["evidence"])


@needs_h200
def test_engine_names_win_over_kernel_families(open_trace):
    """Where the engine names its steps, those are the steps: no step range is labelled from kernels."""
    got = open_trace(oracle.KINETO).sql(
        "SELECT count(*) AS n, count(*) FILTER (WHERE evidence LIKE 'attention%') AS k FROM serving_steps"
    )
    assert got["n"][0] == len(oracle.kineto_raw()[0]) and got["k"][0] == 0


@needs_b200
def test_configured_pattern_reaches_the_analysis(tmp_path, open_trace):
    """The [serving] table is read as Config.serving_patterns, the list `inferscope analyze` passes on."""
    from inferscope.config import load_config

    pattern = r"^batch#\d+ phase=(?P<kind>[A-Za-z]+)$"
    (tmp_path / "inferscope.toml").write_text(f"[serving]\nstep_patterns = ['{pattern}']\n")  # a TOML literal string
    cfg = load_config(tmp_path, environ={})
    assert cfg.serving_patterns == [pattern]
    t = open_trace(_b200(tmp_path, "batch#7 phase=generation"))
    t.analyze(serving_patterns=cfg.serving_patterns)
    assert t.sql("SELECT kind FROM serving_steps")["kind"].tolist() == ["decode"]
