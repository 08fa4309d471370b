"""How the reports read on first contact: the verdict and the utilisation chart come before the findings (checked
in a real headless Chromium for HTML), evidence tables read like Nsight Systems' (a unit per column, numbers that
parse back to the raw values, no cell opening with a comma), count axes have whole-number ticks, the header
names the GPU, SMs, driver and CUDA version (expected values read with plain sqlite3 from the raw export) or says
why not, and `analyze -f json` is byte-identical between fresh processes."""

from __future__ import annotations

import gzip
import json
import re
import sqlite3
from html.parser import HTMLParser

import pytest

from inferscope.render.charts import step_histogram
from inferscope.render.tables import layout
from inferscope.render.report import render_html, render_markdown
from inferscope.render.report_data import build
from tests.browser import Browser, chromium_path
from tests.conftest import KINETO_TRACES, NSYS_TRACES, SAMPLES, run_cli

H100 = SAMPLES / "h100_2gpu_fastvideo.sqlite"
H200 = NSYS_TRACES / "h200_nvfuser_matmul_nsys2024.6.sqlite"  # has TARGET_INFO_GPU with a name
V100 = KINETO_TRACES / "v100_rank1_train.json.gz"  # its idle-gap evidence has ties that used to reorder
TRITON = KINETO_TRACES / "triton_example.json.gz"  # deviceProperties and CUDA versions in its metadata


def _raw(path, sql):
    con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True)
    con.text_factory = lambda b: b.decode("utf-8", "replace")
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


class _Cells(HTMLParser):
    """Text of every <td>/<th> of the tables inside finding cards, as (tag, class, text)."""

    def __init__(self):
        super().__init__()
        self.cells, self._cur, self._in_finding = [], None, 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "article" and "finding" in (a.get("class") or ""):
            self._in_finding += 1
        if tag in ("td", "th") and self._in_finding:
            self._cur = [tag, a.get("class") or "", ""]

    def handle_endtag(self, tag):
        if tag == "article" and self._in_finding:
            self._in_finding -= 1
        if tag in ("td", "th") and self._cur is not None:
            self.cells.append(tuple(self._cur))
            self._cur = None

    def handle_data(self, data):
        if self._cur is not None:
            self._cur[2] += data


@pytest.fixture(scope="module")
def h100(open_trace):
    t = open_trace(H100)
    return t, build(t, t.analyze())


def test_html_opens_with_verdict_and_chart_in_a_real_browser(h100, tmp_path, artifacts):
    pytest.importorskip("websocket", reason="websocket-client (test extra) drives Chromium's DevTools protocol")
    if chromium_path() is None:
        pytest.skip("chromium is not installed")
    _, data = h100
    page = tmp_path / "report.html"
    page.write_text(render_html(data), encoding="utf-8")
    with Browser(width=1280, height=900) as b:
        loaded = b.load(page)
        assert loaded.errors == [] and loaded.requests == []
        top = b.evaluate("""(() => {
            const y = el => el ? el.getBoundingClientRect().top + window.scrollY : null;
            return {verdict: y(document.querySelector('#verdict')),
                    chart: y(document.querySelector('#timeline figure svg')),
                    finding: y(document.querySelector('article.finding'))};
        })()""")
        assert None not in top.values(), top
        assert top["verdict"] < top["chart"] < top["finding"], top
        # the chart is on the first screen, not below the findings
        assert top["chart"] < 900
        assert data.headline in b.evaluate("document.querySelector('#verdict').innerText")
        # evidence tables: numbers right-aligned, padded, no cell that opens with a comma
        style = b.evaluate("""(() => {
            const tds = [...document.querySelectorAll('table.evidence td')];
            return {n: tds.filter(td => td.classList.contains('n')).map(td => getComputedStyle(td).textAlign),
                    pad: tds.map(td => parseFloat(getComputedStyle(td).paddingLeft)),
                    comma: tds.map(td => td.textContent.trim()).filter(t => t.startsWith(','))};
        })()""")
        assert style["n"] and set(style["n"]) == {"right"}
        assert min(style["pad"]) >= 12
        assert style["comma"] == []
        facts = b.evaluate("document.querySelector('#facts').innerText")
        assert "not in this export (no TARGET_INFO_GPU table)" in facts
        b.screenshot(artifacts / "report_layout_h100.png", full_page=False)


def test_markdown_opens_with_verdict_and_utilisation(h100):
    _, data = h100
    md = render_markdown(data)
    verdict, chart, findings = (
        md.index("**Verdict:**"),
        md.index("### GPU utilisation over time"),
        md.index("### Findings"),
    )
    assert verdict < chart < findings
    block = md[chart:findings]
    for b in data.breakdown:  # one utilisation line per GPU, with its busy share
        assert re.search(rf"^GPU {b['device_id']} \|[ ▁▂▃▄▅▆▇█]+\| ", block, flags=re.M)


def test_evidence_cells_parse_back_to_the_raw_values(h100):
    """Every numeric cell, read back in its header's unit, is the raw evidence value within the shown rounding;
    the sample's copy_bound evidence carries the ", N of them from pageable memory" fragment column."""
    t, data = h100
    analysis = t.analyze()
    assert any("pageable_note" in f.evidence.column_names for f in analysis.findings)
    scale = {
        "ns": 1,
        "µs": 1e3,
        "ms": 1e6,
        "s": 1e9,
        "B": 1,
        "kB": 1e3,
        "MB": 1e6,
        "GB": 1e9,
        "GB/s": 1e9,
        "MB/s": 1e6,
        "kB/s": 1e3,
        "B/s": 1,
    }
    checked = 0
    for f in data.findings:
        for col in layout(f.columns, f.rows, data.t0_ns):
            assert not any(c.startswith(",") for c in col.cells), (f.rule_id, col.name)
            assert "_" not in col.header or col.header == col.name, col.header
            unit = re.search(r"\(([^)]+)\)$", col.header)
            if not col.numeric or not unit or unit.group(1) not in scale:
                continue
            raw = [r[f.columns.index(col.name)] for r in f.rows]
            for cell, v in zip(col.cells, raw):
                if v is None or cell.startswith("<"):
                    continue
                decimals = len(cell.split(".")[1]) if "." in cell else 0
                expected = (v - data.t0_ns) if col.name.endswith(("start_ns", "end_ns")) else v
                assert float(cell.replace(",", "")) == pytest.approx(
                    expected / scale[unit.group(1)], abs=0.5 * 10**-decimals + 1e-9
                ), (col.header, cell, v)
                checked += 1
    assert checked > 20
    parser = _Cells()
    parser.feed(render_html(data))
    assert parser.cells and not [c for c in parser.cells if c[2].strip().startswith(",")]
    md_cells = [
        c.strip()
        for line in render_markdown(data).splitlines()
        if line.startswith("| ")
        for c in line.strip("| ").split(" | ")
    ]
    assert md_cells and not [c for c in md_cells if c.startswith(",")]


def test_step_histogram_has_whole_number_count_ticks():
    """Six steps in five bins (the report's bin count for six steps): matplotlib's default locator puts 0.25-step
    ticks on such an axis (checked here on a plain figure), the report's histogram must not."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    durations = [10.0, 11.0, 12.0, 13.0, 14.0, 10.5]
    ax = Figure().subplots()
    ax.hist(durations, bins=5)
    assert any(not float(v).is_integer() for v in ax.get_yticks()), "the data would not show the bug"
    svg = step_histogram(durations, 11.5, 13.5, 14.0)
    ticks = re.findall(r'<g id="ytick_\d+">.*?<text[^>]*>([^<]*)</text>', svg, flags=re.S)
    assert ticks, "no y tick labels found in the SVG"
    assert all(re.fullmatch(r"\d+", t.strip().replace("−", "-")) for t in ticks), ticks


@pytest.mark.skipif(not H200.exists(), reason="shared traces not found")
def test_header_facts_from_the_device_table(open_trace, cache_dir):
    name, sms = _raw(H200, "SELECT name, smCount FROM TARGET_INFO_GPU")[0]
    env = dict(
        _raw(
            H200,
            "SELECT name, value FROM TARGET_INFO_SYSTEM_ENV WHERE name IN ('NvDriverVersion', 'CudaDriverVersion')",
        )
    )
    cuda = int(env["CudaDriverVersion"])
    cuda_text = f"{cuda // 1000}.{cuda % 1000 // 10}"
    t = open_trace(H200)
    data = build(t, t.analyze())
    html, md = render_html(data), render_markdown(data)
    header = html[html.index('id="facts"') : html.index("</header>")]
    for expected in (name, str(sms), env["NvDriverVersion"], cuda_text):
        assert expected in header, expected
        assert expected in md.split("### ")[0], expected
    r = run_cli("analyze", H200, "--cache-dir", cache_dir)
    assert r.returncode == 0, r.stderr
    head = " ".join(r.stdout.split("Key metrics")[0].split())
    for expected in (f"GPU: {name}", f"SMs: {sms}", f"Driver: {env['NvDriverVersion']}", f"CUDA: {cuda_text}"):
        assert expected in head, (expected, head)


@pytest.mark.skipif(not TRITON.exists(), reason="shared traces not found")
def test_header_facts_from_kineto_device_properties(open_trace):
    meta = json.loads(gzip.open(TRITON).read())
    names = {d["name"] for d in meta["deviceProperties"]}
    assert len(names) == 1
    # the trace lists 8 GPUs but its kernels ran on one: the header names the active GPU and gives both counts
    active = {e["args"]["device"] for e in meta["traceEvents"] if e.get("cat") == "kernel"}
    assert len(active) == 1 < len(meta["deviceProperties"])
    t = open_trace(TRITON)
    data = build(t)
    facts = {f.label: f for f in data.facts}
    assert facts["GPU"].value == names.pop()
    assert facts["GPUs"].value == f"1 active of {len(meta['deviceProperties'])} listed"
    assert facts["Driver version"].value is None and "PyTorch profiler" in facts["Driver version"].note
    assert str(int(meta["cuda_runtime_version"]) // 1000) in facts["CUDA"].value


def test_header_says_why_a_fact_is_missing(h100, cache_dir):
    tables = {n for (n,) in _raw(H100, "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "TARGET_INFO_GPU" not in tables
    used = sorted(d for (d,) in _raw(H100, "SELECT DISTINCT deviceId FROM CUPTI_ACTIVITY_KIND_KERNEL"))
    _, data = h100
    why = "GPU name: not in this export (no TARGET_INFO_GPU table)"
    html, md = render_html(data), render_markdown(data)
    assert "GPU name</dt><dd>not in this export (no TARGET_INFO_GPU table)" in html
    assert "**GPU name:** _not in this export (no TARGET\\_INFO\\_GPU table)_" in md
    facts = {f.label: f for f in data.facts}
    assert facts["GPUs"].value == str(len(used)) and ", ".join(map(str, used)) in facts["GPUs"].note
    r = run_cli("analyze", H100, "--cache-dir", cache_dir)
    assert r.returncode == 0, r.stderr
    assert why in " ".join(r.stdout.split())
    assert "–" not in html[: html.index("</header>")]
    assert "host modal" not in html and "Host name</dt><dd>modal" in html


@pytest.mark.parametrize("path", [H100, V100], ids=lambda p: p.name)
def test_analyze_json_is_byte_identical_between_runs(path, tmp_path):
    if not path.exists():
        pytest.skip("shared traces not found")
    outs = []
    for i in range(2):
        r = run_cli("analyze", path, "-f", "json", "--cache-dir", tmp_path / f"cache{i}")
        assert r.returncode == 0, r.stderr
        outs.append(r.stdout.encode("utf-8"))
    assert json.loads(outs[0])["findings"], "nothing to compare"
    assert outs[0] == outs[1]
