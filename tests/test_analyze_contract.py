"""The analysis contract: every shared nsys export analyses without rule errors, the JSON validates against the
shipped schema and reads back, and the CLI writes JSON atomically."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from inferscope.analyze.result import SCHEMA_VERSION, Analysis
from tests.conftest import NSYS_SQLITE, REPO, needs_shared, run_cli

SCHEMA = json.loads((REPO / "inferscope" / "schemas" / "analysis-v1.schema.json").read_text())


@needs_shared
@pytest.mark.parametrize("path", NSYS_SQLITE, ids=lambda p: p.stem)
def test_every_export_analyses_and_validates(path, open_trace):
    a = open_trace(path).analyze()
    assert a.rule_errors == []
    doc = json.loads(a.to_json())
    jsonschema.validate(doc, SCHEMA)
    assert doc["schema_version"] == SCHEMA_VERSION
    impacts = [f["impact_ns"] for f in doc["findings"]]
    assert impacts == sorted(impacts, reverse=True)
    # every trace-scoped metric id declared in sql/metrics is present exactly once
    ids = [m["id"] for m in doc["metrics"] if m["scope"] == "trace"]
    assert len(ids) == len(set(ids))
    back = Analysis.from_json(a.to_json())
    assert back.headline == a.headline
    assert [m.qualified_id for m in back.metrics] == [m.qualified_id for m in a.metrics]
    assert [(f.rule_id, f.impact_ns) for f in back.findings] == [(f.rule_id, f.impact_ns) for f in a.findings]


def test_schema_is_valid_and_inside_the_package():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    import inferscope

    assert (Path(inferscope.__file__).parent / "schemas" / "analysis-v1.schema.json").exists()


@needs_shared
def test_cli_json_output_file_is_atomic_and_valid(tmp_path, cache_dir):
    trace = next(p for p in NSYS_SQLITE if p.stem.startswith("a100x4"))
    out = tmp_path / "analysis.json"
    r = run_cli("analyze", trace, "-o", out, "--cache-dir", cache_dir)
    assert r.returncode == 0, r.stderr
    jsonschema.validate(json.loads(out.read_text()), SCHEMA)
    assert [p.name for p in tmp_path.iterdir()] == ["analysis.json"]
    # a failing run (bad --param) leaves nothing behind and exits 2 with one line
    bad = tmp_path / "bad.json"
    r = run_cli("analyze", trace, "-o", bad, "--param", "gpu_gaps.nope=1", "--cache-dir", cache_dir)
    assert r.returncode == 2
    assert r.stderr.startswith("inferscope: error: --param gpu_gaps.nope") and "Traceback" not in r.stderr
    assert not bad.exists() and [p.name for p in tmp_path.iterdir()] == ["analysis.json"]


@needs_shared
def test_cli_terminal_summary_opens_with_the_headline(cache_dir, open_trace):
    trace = next(p for p in NSYS_SQLITE if p.stem.startswith("a100_saxpy"))
    r = run_cli("analyze", trace, "--cache-dir", cache_dir)
    assert r.returncode == 0, r.stderr
    headline = open_trace(trace).analyze().headline
    assert " ".join(r.stdout.split())[:60] == " ".join(headline.split())[:60]
    assert "Findings" in r.stdout and "Key metrics" in r.stdout


@needs_shared
def test_metrics_api_gives_the_analysis_metrics(open_trace):
    t = open_trace(next(p for p in NSYS_SQLITE if p.stem.startswith("a100x4")))
    assert [(m.qualified_id, m.value) for m in t.metrics()] == [(m.qualified_id, m.value) for m in t.analyze().metrics]
    df = t.analyze().metrics_df()
    assert set(df.columns) >= {"id", "value", "unit", "polarity", "scope", "device_id", "key"}


@needs_shared
def test_headline_states_the_measured_figures(open_trace):
    from inferscope.units import fmt_ns, fmt_pct

    saxpy = open_trace(next(p for p in NSYS_SQLITE if p.stem.startswith("a100_saxpy"))).analyze()
    busy, span = saxpy.value("gpu_busy_pct"), saxpy.value("gpu_span_ns")
    assert saxpy.headline.startswith(f"The GPU sat idle {fmt_pct(100 - busy)} of the {fmt_ns(span)} active span")
    h100 = open_trace(next(p for p in NSYS_SQLITE if p.stem.startswith("h100"))).analyze()
    assert h100.headline.startswith(
        f"Copy-bound: memory copies kept the 2 GPUs busy {fmt_pct(h100.value('copy_busy_pct'))}"
    )
    assert h100.findings[0].rule_id == "copy_bound"
