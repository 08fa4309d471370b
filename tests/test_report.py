"""Markdown and HTML reports: numbers that agree with an independent computation, output that fits where it is
pasted, self-contained HTML, and trace strings that stay text (GitHub's own cmark-gfm renders the Markdown)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from inferscope.errors import InferScopeError
from inferscope.render.report import GITHUB_COMMENT_LIMIT, format_for, md_code, md_text, render_html, render_markdown
from inferscope.render.tables import is_fragment
from inferscope.render.report_data import build
from tests.conftest import NSYS_REPS, NSYS_SQLITE, REPO, SAMPLES, run_cli
from tests.trace_edits import IMG, MARKDOWN, SCRIPT, THREAD, hostile_copy, stepped_copy

H100 = SAMPLES / "h100_2gpu_fastvideo.sqlite"
TRACES = NSYS_SQLITE + NSYS_REPS if NSYS_SQLITE else [H100]


def _gfm(markdown: str) -> str:
    """GitHub's cmark-gfm with raw HTML let through (stricter than GitHub, which would also sanitise)."""
    cmarkgfm = pytest.importorskip("cmarkgfm", reason="cmarkgfm (GitHub's Markdown renderer) is a test extra")
    from cmarkgfm.cmark import Options

    return cmarkgfm.github_flavored_markdown_to_html(markdown, options=Options.CMARK_OPT_UNSAFE)


def test_format_from_suffix_or_option(tmp_path):
    assert format_for(Path("r.html"), None) == "html"
    assert format_for(Path("r.HTM"), None) == "html"
    assert format_for(Path("r.md"), None) == "md"
    assert format_for(Path("r.txt"), "markdown") == "md"
    with pytest.raises(InferScopeError, match="cannot tell the report format"):
        format_for(Path("r.pdf"), None)
    with pytest.raises(InferScopeError, match="unknown report format"):
        format_for(Path("r.md"), "pdf")


def test_markdown_escaping_survives_github_rendering():
    hostile = [SCRIPT, IMG, MARKDOWN, "a|b", "``x`y``", "#42 @octocat ~~gone~~ _em_ ![i](x.png)"]
    md = "| name | text |\n|---|---|\n" + "".join(f"| {md_code(h)} | {md_text(h)} |\n" for h in hostile)
    html = _gfm(md)
    assert "<script" not in html and "<img" not in html and "<b>" not in html and "<a " not in html
    assert "<em>" not in html and "<del>" not in html and "<strong>" not in html
    rows = re.findall(r"<tr>(.*?)</tr>", html, flags=re.S)
    assert len(rows) == 1 + len(hostile)
    assert all(len(re.findall(r"<t[hd][ >]", r)) == 2 for r in rows), "a pipe in a value split a table cell"
    import html as htmllib

    text = htmllib.unescape(re.sub(r"<[^>]+>", "", html))
    assert "@\u200bocto" in text  # a zero-width space keeps GitHub from turning @name into a mention
    for h in hostile:
        assert text.replace("\u200b", "").count(h) == 2, h  # once as a code span, once as escaped text, verbatim


def _union_ns(starts, ends) -> int:
    """Independent interval union: sort, merge, sum (the test's own oracle for the SQL sweep)."""
    order = np.argsort(starts, kind="stable")
    total, cur_s, cur_e = 0, None, None
    for s, e in zip(np.asarray(starts)[order].tolist(), np.asarray(ends)[order].tolist()):
        if cur_e is None or s > cur_e:
            if cur_e is not None:
                total += cur_e - cur_s
            cur_s, cur_e = s, e
        else:
            cur_e = max(cur_e, e)
    return total + (cur_e - cur_s if cur_e is not None else 0)


@pytest.mark.parametrize("path", TRACES, ids=lambda p: p.name)
def test_gpu_time_agrees_with_an_independent_union(path, open_trace):
    if path.suffix == ".nsys-rep" and shutil.which("nsys") is None:
        pytest.skip("the nsys CLI is needed to export .nsys-rep files")
    t = open_trace(path)
    data = build(t)
    ops = t.sql(
        "SELECT device_id, 'compute' AS kind, start_ns, end_ns FROM kernels UNION ALL "
        "SELECT device_id, 'copy', start_ns, end_ns FROM memcpy UNION ALL "
        "SELECT device_id, 'copy', start_ns, end_ns FROM memset"
    )
    if ops.empty:
        assert data.window is None and data.breakdown == [] and data.bins == {}
        return
    assert data.window["start_ns"] == ops["start_ns"].min() and data.window["end_ns"] == ops["end_ns"].max()
    for b in data.breakdown:
        d = ops[ops.device_id == b["device_id"]]
        compute = _union_ns(d[d.kind == "compute"].start_ns.values, d[d.kind == "compute"].end_ns.values)
        copy = _union_ns(d[d.kind == "copy"].start_ns.values, d[d.kind == "copy"].end_ns.values)
        busy = _union_ns(d.start_ns.values, d.end_ns.values)
        assert b["compute_only_ns"] == busy - copy
        assert b["copy_only_ns"] == busy - compute
        assert b["overlap_ns"] == compute + copy - busy
        assert b["idle_ns"] == data.window["dur_ns"] - busy
        # the chart's bins add up to the same unions, so aggregation loses no time
        bins = data.bins[b["device_id"]]
        assert sum(bins["busy"]) == busy and sum(bins["compute"]) == compute and sum(bins["copy"]) == copy
        assert all(0 <= v <= bins["w_ns"] for v in bins["busy"])


@pytest.mark.parametrize("path", TRACES, ids=lambda p: p.name)
def test_report_for_every_nsys_export(path, open_trace, artifacts):
    if path.suffix == ".nsys-rep" and shutil.which("nsys") is None:
        pytest.skip("the nsys CLI is needed to export .nsys-rep files")
    t = open_trace(path)
    analysis = t.analyze()
    data = build(t, analysis)
    for shown, found in zip(data.findings, sorted(analysis.findings, key=lambda f: -f.impact_ns)):
        # evidence columns with one value in every row are said once above the table; only fragments of the
        # summary sentence (", 2 of them from pageable memory") are left out, and the summary carries them
        fragments = [c for c in found.evidence.column_names if is_fragment(found.evidence.column(c).to_pylist())]
        assert sorted(shown.columns + [c for c, _ in shown.constants] + fragments) == sorted(
            found.evidence.column_names
        )
        for c, v in shown.constants:
            assert set(found.evidence.column(c).to_pylist()) == {v}
    md = render_markdown(data)
    html = render_html(data)
    out = artifacts / "reports"
    out.mkdir(exist_ok=True)
    (out / f"{path.stem}.md").write_text(md, encoding="utf-8")
    (out / f"{path.stem}.html").write_text(html, encoding="utf-8")

    assert len(md) <= GITHUB_COMMENT_LIMIT
    rendered = _gfm(md)
    assert "<h2>" in rendered and path.name.split(".")[0].split("_")[0] in rendered
    for table in re.findall(r"<table>.*?</table>", rendered, flags=re.S):
        widths = {len(re.findall(r"<t[hd][ >]", row)) for row in re.findall(r"<tr>(.*?)</tr>", table, flags=re.S)}
        assert len(widths) == 1, "ragged Markdown table"

    # One self-contained file: no scripts, nothing fetched, a CSP that forbids both.
    assert "<script" not in html.lower()
    assert not re.search(r"""(src|href)\s*=\s*(?!["']?#)""", html), "external reference in the HTML"
    assert not re.search(r"""url\(\s*(?!["']?#)""", html) and "@import" not in html
    assert "default-src 'none'" in html
    assert len(html) < 600_000
    for section in ("verdict", "metrics", "trace"):
        assert f'id="{section}"' in html
    if data.findings:
        assert 'id="findings"' in html and "### Findings, ranked by impact" in md
        impacts = [f.impact_ns for f in data.findings]
        assert impacts == sorted(impacts, reverse=True)
        assert html.count('class="card finding"') == len(data.findings)
    if data.has_gpu:
        assert 'id="timeline"' in html and 'id="kernels"' in html and html.count("<svg") >= 3
        for k in data.top_kernels[:3]:
            assert k["name"][:40].replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") in html


def test_hostile_strings_are_text_in_both_formats(tmp_path, open_trace):
    t = open_trace(hostile_copy(H100, tmp_path))
    data = build(t, t.analyze())
    assert any(SCRIPT in r["name"] for r in data.top_ranges) and any(IMG in k["name"] for k in data.top_kernels)
    html = render_html(data)
    assert (
        "<script" not in html
        and "<img" not in html
        and "onerror=alert" not in html.replace("&lt;img src=x onerror=alert", "")
    )
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    rendered = _gfm(render_markdown(data))
    assert "<script" not in rendered and "<img" not in rendered and "<b>" not in rendered
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered
    assert THREAD not in html or "&lt;script&gt;alert(2)" in html


def test_html_without_matplotlib_is_a_clear_error(tmp_path, cache_dir):
    """matplotlib is a dependency: without it (a broken install) the report says what is missing, no traceback."""
    code = (
        "import sys; sys.modules['matplotlib'] = None\n"
        "import inferscope\nfrom inferscope.errors import InferScopeError\n"
        "from inferscope.render.report import render_html\nfrom inferscope.render.report_data import build\n"
        f"t = inferscope.open({str(H100)!r}, cache_dir={str(cache_dir)!r})\n"
        "try:\n    render_html(build(t))\nexcept InferScopeError as e:\n    print('ERROR', e)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("ERROR") and "matplotlib" in r.stdout and "pip install" in r.stdout


def test_analyze_cli_picks_the_report_format(tmp_path, cache_dir):
    html, md = tmp_path / "report.html", tmp_path / "report.md"
    for out in (html, md):
        r = run_cli("analyze", H100, "-o", out, "--cache-dir", cache_dir)
        assert r.returncode == 0, r.stderr
    assert html.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert md.read_text(encoding="utf-8").startswith("## InferScope")
    r = run_cli("analyze", H100, "--format", "md", "--cache-dir", cache_dir)
    assert r.returncode == 0 and r.stdout.startswith("## InferScope") and "**Verdict:**" in r.stdout
    r = run_cli("analyze", H100, "-o", tmp_path / "missing" / "r.html", "--cache-dir", cache_dir)
    assert r.returncode == 2 and r.stderr.startswith("inferscope: error:") and len(r.stderr.splitlines()) == 1
    assert not (tmp_path / "missing").exists()


def test_markdown_fits_a_github_comment_however_many_findings(open_trace):
    """A real analysis blown up to 300 findings with 50-row evidence of real kernel names: the Markdown keeps the
    verdict and the top findings, drops evidence rows and then the tail, and stays under GitHub's limit."""
    import dataclasses

    t = open_trace(H100)
    analysis = t.analyze()
    evidence = t.sql(
        "SELECT name AS kernel, start_ns, dur_ns, grid_x, stream_id FROM kernels ORDER BY dur_ns DESC LIMIT 50",
        arrow=True,
    )
    base = analysis.findings[0]
    many = [
        dataclasses.replace(
            base, impact_ns=base.impact_ns + 1000 * (300 - i), evidence=evidence, evidence_total=evidence.num_rows
        )
        for i in range(300)
    ]
    data = build(t, dataclasses.replace(analysis, findings=many))
    md = render_markdown(data)
    assert len(md) <= GITHUB_COMMENT_LIMIT
    assert "**Verdict:**" in md and "**1. " in md and "more findings with less impact" in md
    rendered = _gfm(md)
    assert rendered.count("<details>") >= 1  # the top findings still carry evidence
    small = render_markdown(build(t, analysis))
    assert "more findings" not in small and small.count("<details><summary>Evidence") == len(analysis.findings)


def test_steps_and_phases(tmp_path, open_trace, artifacts):
    """Step markers added to a copy of the real H100 export (tests/trace_edits.py): the step section's figures
    are the analysis' own step metrics (computed there by DuckDB's quantile_cont), phases are named, and the
    timeline draws the step bands and the phase strip."""
    t = open_trace(stepped_copy(H100, tmp_path))
    analysis = t.analyze()
    data = build(t, analysis)
    st = data.step_stats
    assert st["count"] == analysis.value("step_count") == 48
    for q in ("p50", "p90", "p99"):
        assert st[f"{q}_ns"] == pytest.approx(analysis.value(f"step_time_{q}_ns"), abs=1)
    assert [p["phase"] for p in data.phases] == ["prefill", "decode"]
    html = render_html(data)
    (artifacts / "reports").mkdir(exist_ok=True)
    (artifacts / "reports" / "stepped_h100.html").write_text(html, encoding="utf-8")
    assert 'id="steps"' in html and html.count("<svg") == 4
    assert "steps (alternate bands)" in html and "prefill phase" in html and "decode phase" in html
    md = render_markdown(data)
    assert "### Steps" in md and "| 48 |" in md


@pytest.mark.parametrize("path", [p for p in TRACES if p.suffix == ".sqlite"], ids=lambda p: p.name)
def test_top_tables_agree_with_the_nsys_stats_reports(path, open_trace):
    """Top kernels and top ranges re-add up from `inferscope stats` cuda_gpu_kern_sum / nvtx_sum, which the stats
    parity tests hold equal to `nsys stats`: only the grouping differs (base kernel name; PyTorch op suffixes)."""
    t = open_trace(path)
    data = build(t)
    short = dict(t.sql("SELECT DISTINCT name, coalesce(short_name, name) AS s FROM kernels").itertuples(index=False))
    by_base: dict[str, int] = {}
    for row in t.stats("cuda_gpu_kern_sum").rows():
        by_base[short[row["Name"]]] = by_base.get(short[row["Name"]], 0) + row["Total Time (ns)"]
    for k in data.top_kernels:
        assert k["total_ns"] == by_base[k["name"]]
    ranked = sorted(by_base, key=lambda n: (-by_base[n], n))
    assert [k["name"] for k in data.top_kernels] == ranked[: len(data.top_kernels)]
    suffix = re.compile(r",\s*(seq|op_id|sizes|input_op_ids)\s*=.*$")
    by_op: dict[str, int] = {}
    for row in t.stats("nvtx_sum").rows():
        name = suffix.sub("", row["Range"] or "")
        by_op[name] = by_op.get(name, 0) + row["Total Time (ns)"]
    for g in data.top_ranges:
        if g["category"] == "nvtx":
            assert g["total_ns"] == by_op[g["name"]]
