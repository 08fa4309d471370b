"""Analyses stored with the cached model (inferscope/analyze/stored_analysis.py): a second analysis of the same
trace with the same inputs reads the stored result, and must write exactly what an analysis without any cache
writes, in every format; a stored result must never be read where a rule, a parameter, a pattern, the window or
the code that made it differs."""

from __future__ import annotations

import json
import math
import re
import shutil
from pathlib import Path

import pytest

from tests import golden_outputs
from tests.conftest import TRACES, needs_shared

pytestmark = needs_shared

# steps from the default patterns, several GPUs, Kineto with and without steps, a metrics export, a serving export
# The eager decode trace (178k events, the slowest here) runs once, on the pinned set: the Python variants have the
# other Kineto trace (marked heavy: CI runs that group once, not per variant)
EAGER = pytest.param("h200/h200_llm_decode_eager.json.gz", marks=pytest.mark.heavy, id="h200/h200_llm_decode_eager")
CASES = [
    "nsys/h100_2gpu_fastvideo.sqlite",
    "nsys/a100x4_cloverleaf_nsys2024.5.sqlite",
    "kineto/v100_rank1_train.json.gz",
    EAGER,
    "h200/h200_gpu_metrics_nsys2025.3.sqlite.gz",
]
SAMPLE = "nsys/h100_2gpu_fastvideo.sqlite"
_STAMP = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}(:\d{2})? UTC")


def _cli(*args: str) -> str:
    return golden_outputs.run(TRACES, list(args))[1]


def _stored(cache: Path) -> list[Path]:
    return sorted(p for p in cache.glob("*/analyses/*") if not p.name.startswith(".tmp-"))


def _mark(folder: Path, text: str) -> None:
    """Put `text` in the stored headline: an output that shows it was read from the store, not recomputed."""
    doc = json.loads((folder / "analysis.json").read_text())
    doc["headline"] = text
    (folder / "analysis.json").write_text(json.dumps(doc))


@pytest.mark.parametrize("path", CASES)
def test_a_second_analysis_reads_the_stored_one_and_writes_the_uncached_output(path, tmp_path, monkeypatch):
    monkeypatch.setenv("INFERSCOPE_CACHE_DIR", str(tmp_path))
    want = _cli("analyze", path, "-f", "json", "--no-cache")
    assert not _stored(tmp_path)
    cold = _cli("analyze", path, "-f", "json")
    (folder,) = _stored(tmp_path)
    warm = _cli("analyze", path, "-f", "json")
    assert cold == want and warm == want
    assert _stored(tmp_path) == [folder]
    _mark(folder, "READ FROM THE STORE")
    assert json.loads(_cli("analyze", path, "-f", "json"))["headline"] == "READ FROM THE STORE"


# Every format of the bundled sample and the HTML report of the GPU-metrics export in every CI variant; that
# export's Markdown and terminal reports (~25 s) once, in the main run, as the eager trace's (EAGER): what varies
# with the libraries is the stored tables the reports read, which the HTML report reads as the others do.
_ONCE = pytest.mark.heavy


@pytest.mark.parametrize(
    "path, fmt",
    [
        *(
            pytest.param(path, fmt, marks=() if fmt == "html" or "fastvideo" in path else _ONCE)
            for path in ("nsys/h100_2gpu_fastvideo.sqlite", "h200/h200_gpu_metrics_nsys2025.3.sqlite.gz")
            for fmt in ("md", "html", "terminal")
        ),
        *(
            pytest.param(*EAGER.values, fmt, marks=EAGER.marks, id=f"{EAGER.id}-{fmt}")
            for fmt in ("md", "html", "terminal")
        ),
    ],
)
def test_reports_after_a_stored_analysis_equal_the_uncached_ones(path, fmt, tmp_path, monkeypatch):
    """The report's own queries run after a stored analysis over the stored derived tables read as views (not
    loaded); what they show must be what an uncached run shows, patterns included."""
    monkeypatch.setenv("INFERSCOPE_CACHE_DIR", str(tmp_path))
    extra = ["--step-pattern", "^aten::linear"] if "fastvideo" in path else []
    want = _STAMP.sub("T", _cli("analyze", path, "-f", fmt, "--no-cache", *extra))
    _cli("analyze", path, "-f", "json", *extra)
    assert len(_stored(tmp_path)) == 1
    assert _STAMP.sub("T", _cli("analyze", path, "-f", fmt, *extra)) == want


def _same_value(a, b) -> bool:
    return (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b)) or a == b


@pytest.mark.parametrize("path", CASES)
def test_the_stored_analysis_keeps_every_value_and_arrow_type(path, tmp_path):
    """In-process: the object read back equals the computed one field by field, evidence schemas included (the
    JSON output keeps only 50 evidence rows and plain types; the API hands out the whole tables)."""
    import inferscope

    got = {}
    for run in ("computed", "stored"):
        with inferscope.open(TRACES / path, cache_dir=tmp_path) as t:
            got[run] = t.analyze()
    a, b = got["computed"], got["stored"]
    assert len(_stored(tmp_path)) == 1
    assert a.headline == b.headline and a.rules == b.rules and a.rule_errors == b.rule_errors
    assert a.step_source == b.step_source and a.data_quality == b.data_quality
    assert [(m.id, m.unit, m.polarity, m.scope, m.device_id, m.key, m.description) for m in a.metrics] == [
        (m.id, m.unit, m.polarity, m.scope, m.device_id, m.key, m.description) for m in b.metrics
    ]
    assert all(_same_value(x.value, y.value) and type(x.value) is type(y.value) for x, y in zip(a.metrics, b.metrics))
    assert a.steps.equals(b.steps, check_metadata=True) and a.devices.equals(b.devices, check_metadata=True)
    assert len(a.findings) == len(b.findings)
    for f, g in zip(a.findings, b.findings):
        assert f.evidence.schema == g.evidence.schema and f.evidence.equals(g.evidence)
        assert {k: v for k, v in vars(f).items() if k != "evidence"} == {
            k: v for k, v in vars(g).items() if k != "evidence"
        }
    assert a.to_json() == b.to_json()


@_ONCE  # the keys are computed in Python, the same on every variant (~28 s)
def test_each_input_that_shapes_the_result_gets_a_result_of_its_own(tmp_path, monkeypatch):
    monkeypatch.setenv("INFERSCOPE_CACHE_DIR", str(tmp_path))
    runs = {
        "default": ["analyze", SAMPLE, "-f", "json"],
        "param": ["analyze", SAMPLE, "-f", "json", "--param", "gpu_gaps.gap_ns=1000"],
        "steps": ["analyze", SAMPLE, "-f", "json", "--step-pattern", "^aten::linear"],
        "window": ["analyze", SAMPLE, "-f", "json", "--window", "155.5s:156s"],
    }
    want = {name: _cli(*args[:3], *args[3:], "--no-cache") for name, args in runs.items()}
    assert len(set(want.values())) == 4
    for name, args in runs.items():
        assert _cli(*args) == want[name]
    assert len(_stored(tmp_path)) == 4
    for name, args in runs.items():  # each read back from its own folder
        assert _cli(*args) == want[name]
    assert len(_stored(tmp_path)) == 4


def test_an_edited_or_added_rule_is_never_served_a_stored_result(tmp_path, monkeypatch):
    monkeypatch.setenv("INFERSCOPE_CACHE_DIR", str(tmp_path / "cache"))
    rules = tmp_path / "rules"
    rules.mkdir()
    rule = rules / "long_kernels.sql"
    body = (
        "-- rule: long_kernels\n-- title: Long kernels\n-- severity: auto\n-- group_by: device_id\n"
        "-- param min_ns = 1000: shortest kernel reported (ns)\n"
        "-- summary: {n} kernels on {gpu} ran longer than {p_min_ns:time}.\n-- recommendation: Look at them.\n"
        "SELECT dur_ns AS impact_ns, start_ns, end_ns, dur_ns, device_id, pid FROM kernels WHERE dur_ns >= $min_ns\n"
    )
    rule.write_text(body)
    first = json.loads(_cli("analyze", SAMPLE, "-f", "json", "--rules", str(rules)))
    assert [f for f in first["findings"] if f["rule_id"] == "long_kernels"]
    rule.write_text(body.replace(">= $min_ns", ">= $min_ns * 1000000000"))  # same file name, the rule now finds nothing
    second = json.loads(_cli("analyze", SAMPLE, "-f", "json", "--rules", str(rules)))
    assert not [f for f in second["findings"] if f["rule_id"] == "long_kernels"]
    plain = json.loads(_cli("analyze", SAMPLE, "-f", "json"))
    assert not [r for r in plain["rules"] if r["id"] == "long_kernels"]
    assert len(_stored(tmp_path / "cache")) == 3


@_ONCE  # a decision in Python, the same on every variant (~27 s)
def test_a_trace_with_requests_attached_is_not_stored(tmp_path, monkeypatch):
    monkeypatch.setenv("INFERSCOPE_CACHE_DIR", str(tmp_path))
    trace = "h200/h200_serving_continuous_batching.json.gz"
    requests = TRACES / "h200/h200_serving_requests.jsonl"
    if not requests.exists():
        pytest.skip(f"no request file beside {trace} in this copy of the shared traces")
    first = _cli("analyze", trace, "-f", "json", "--requests", str(requests))
    assert json.loads(first).get("serving")
    assert not _stored(tmp_path)
    assert _cli("analyze", trace, "-f", "json", "--requests", str(requests)) == first


def test_a_damaged_stored_analysis_is_recomputed_and_stored_again(tmp_path, monkeypatch):
    monkeypatch.setenv("INFERSCOPE_CACHE_DIR", str(tmp_path))
    want = _cli("analyze", SAMPLE, "-f", "json", "--no-cache")
    _cli("analyze", SAMPLE, "-f", "json")
    (folder,) = _stored(tmp_path)
    evidence = sorted(folder.glob("evidence-*.arrow"))
    assert evidence
    evidence[0].write_bytes(b"ARROW1 damaged")
    assert _cli("analyze", SAMPLE, "-f", "json") == want
    (again,) = _stored(tmp_path)
    assert again.name == folder.name and (again / evidence[0].name).read_bytes()[:6] == b"ARROW1"
    assert _cli("analyze", SAMPLE, "-f", "json") == want
    (folder / "analysis.json").write_text("{not json")
    assert _cli("analyze", SAMPLE, "-f", "json") == want
    assert json.loads((folder / "analysis.json").read_text())["format"]


def test_queries_after_a_stored_analysis_see_its_patterns_and_a_new_window_cancels_them(tmp_path):
    """The derived tables are set up only when a query follows, and then as the analysis had them."""
    import inferscope

    src = TRACES / SAMPLE
    pattern = ["^aten::linear"]
    with inferscope.open(src, use_cache=False) as t:
        want = t.analyze(step_patterns=pattern).steps.num_rows
        assert want > 0
    with inferscope.open(src, cache_dir=tmp_path) as t:
        t.analyze(step_patterns=pattern)
    with inferscope.open(src, cache_dir=tmp_path) as t:
        a = t.analyze(step_patterns=pattern)
        assert t.engine._deferred is not None  # nothing was loaded for the stored analysis
        assert a.steps.num_rows == want
        assert t.rows("SELECT count(*) FROM steps").rows[0][0] == want
        views = t.engine.raw.execute("SELECT view_name FROM duckdb_views() WHERE temporary").fetchall()
        assert ("gpu_busy",) in views  # read as a view over the stored file
    with inferscope.open(src, cache_dir=tmp_path) as t:
        t.analyze(step_patterns=pattern)
        with t.window("155.5s:156s"):
            assert t.engine._deferred is None
        assert t.rows("SELECT count(*) FROM steps").rows[0][0] == 0  # default patterns: none in this trace


def test_only_the_latest_variants_are_kept(tmp_path, monkeypatch):
    from inferscope.analyze import stored_analysis

    monkeypatch.setattr(stored_analysis, "MAX_VARIANTS", 2)
    monkeypatch.setenv("INFERSCOPE_CACHE_DIR", str(tmp_path))
    for gap in (1000, 2000, 3000):
        _cli("analyze", SAMPLE, "-f", "json", "--param", f"gpu_gaps.gap_ns={gap}")
    assert len(_stored(tmp_path)) == 2


def test_an_entry_that_cannot_store_it_still_analyses(tmp_path, monkeypatch):
    monkeypatch.setenv("INFERSCOPE_CACHE_DIR", str(tmp_path))
    want = _cli("analyze", SAMPLE, "-f", "json", "--no-cache")
    _cli("analyze", SAMPLE, "-f", "json")
    (folder,) = _stored(tmp_path)
    shutil.rmtree(folder.parent)
    folder.parent.write_text("in the way")  # every write fails, as on a read-only or full disk
    assert _cli("analyze", SAMPLE, "-f", "json") == want
    assert folder.parent.read_text() == "in the way"
