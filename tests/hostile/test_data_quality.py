"""Rows the conversion leaves out as impossible are said in every output: the analysis JSON's data_quality, a
"Data quality" block in the terminal, Markdown and HTML reports, and one warning line on stderr. Expectations
are counted with sqlite3 over the edited export."""

from __future__ import annotations

import json

import jsonschema

from tests.conftest import REPO, SAMPLES, run_cli
from tests.synth import copy_export

H100 = SAMPLES / "h100_2gpu_fastvideo.sqlite"
SCHEMA = json.loads((REPO / "inferscope" / "schemas" / "analysis-v1.schema.json").read_text())


def _backwards(tmp_path):
    """Every tenth kernel of the real H100 export ends 5 µs before it starts; returns (path, bad rows)."""
    path, con = copy_export(H100, tmp_path, "backwards")
    with con:
        con.execute('UPDATE CUPTI_ACTIVITY_KIND_KERNEL SET "end" = start - 5000 WHERE rowid % 10 = 0')
    bad = con.execute('SELECT count(*) FROM CUPTI_ACTIVITY_KIND_KERNEL WHERE "end" < start').fetchone()[0]
    con.close()
    return path, bad


def test_analysis_json_counts_what_was_left_out(tmp_path):
    path, bad = _backwards(tmp_path)
    r = run_cli("analyze", path, "-f", "json", "--cache-dir", tmp_path / "cache")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    jsonschema.validate(doc, SCHEMA)
    assert doc["data_quality"]["kernels.end_before_start"]["count"] == bad > 0
    assert doc["data_quality"]["kernels.end_before_start"]["description"]
    warnings = [ln for ln in r.stderr.splitlines() if ln.startswith("inferscope: warning:")]
    assert len(warnings) == 1 and f"{bad:,}" in warnings[0] and "end_before_start" in warnings[0], r.stderr


def test_reports_show_the_data_quality_block(tmp_path):
    path, bad = _backwards(tmp_path)
    cache = tmp_path / "cache"
    term = run_cli("analyze", path, "--cache-dir", cache)
    assert term.returncode == 0, term.stderr
    md = run_cli("analyze", path, "-o", tmp_path / "r.md", "--cache-dir", cache)
    html = run_cli("analyze", path, "-o", tmp_path / "r.html", "--cache-dir", cache)
    assert md.returncode == 0 and html.returncode == 0, md.stderr + html.stderr
    for text in (term.stdout, (tmp_path / "r.md").read_text(), (tmp_path / "r.html").read_text()):
        assert "Data quality" in text
        assert f"{bad:,}" in text and "end before start" in text


def test_clean_trace_has_no_block_and_no_warning(tmp_path):
    r = run_cli("analyze", H100, "-f", "json", "--cache-dir", tmp_path / "cache")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["data_quality"] == {}
    assert "inferscope: warning:" not in r.stderr
    term = run_cli("analyze", H100, "--cache-dir", tmp_path / "cache")
    assert "Data quality" not in term.stdout


def test_compare_says_what_a_side_left_out(tmp_path):
    """A gate over a trace that lost rows to end < start must say so: a note in JSON and Markdown, a ::warning in
    GitHub annotations and a JUnit property, with the count sqlite3 finds in the edited export."""
    import xml.etree.ElementTree as ET

    path, bad = _backwards(tmp_path)
    cache, junit = tmp_path / "cache", tmp_path / "compare.xml"
    args = ("compare", H100, path, "--cache-dir", cache)
    runs = {fmt: run_cli(*args, "-f", fmt) for fmt in ("json", "md")}
    runs["github"] = run_cli(*args, "-f", "github", "--junit", junit, env={"GITHUB_STEP_SUMMARY": str(tmp_path / "s")})
    for fmt, r in runs.items():
        assert r.returncode in (0, 1) and "Traceback" not in r.stderr, (fmt, r.stderr)
    expected = f"data quality: new {path.name}: {bad:,} rows"
    notes = json.loads(runs["json"].stdout)["notes"]
    assert [n for n in notes if n.startswith("data quality:")] == [n for n in notes if n.startswith(expected)]
    assert any(n.startswith(expected) and f"kernels.end_before_start {bad:,}" in n for n in notes), notes
    assert expected in runs["md"].stdout
    assert any(
        line.startswith("::warning title=Data quality::") and expected in line
        for line in runs["github"].stdout.splitlines()
    )
    props = [p.get("value") for p in ET.parse(junit).getroot().iter("property") if p.get("name") == "data_quality"]
    assert len(props) == 1 and props[0].startswith(expected)
    clean = json.loads(run_cli("compare", H100, H100, "-f", "json", "--cache-dir", cache).stdout)["notes"]
    assert not [n for n in clean if n.startswith("data quality:")]
