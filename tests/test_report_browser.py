"""The HTML report in a real headless Chromium (Debian's `chromium`, started here): it loads offline with no
console errors and no network requests, its sections are there, hostile trace strings stay text and run no
script, and a screenshot of each page lands in test_artifacts/."""

from __future__ import annotations

from pathlib import Path

import pytest

from inferscope.render.report import render_html, render_markdown
from inferscope.render.report_data import build
from tests.browser import Browser, chromium_path
from tests.conftest import SAMPLES, needs_shared
from tests.trace_edits import IMG, SCRIPT, hostile_copy, stepped_copy

H100 = SAMPLES / "h100_2gpu_fastvideo.sqlite"

pytestmark = [
    pytest.mark.skipif(chromium_path() is None, reason="chromium is not installed (.ci/run installs Debian's package)"),
]


@pytest.fixture(scope="module")
def browser():
    pytest.importorskip("websocket", reason="websocket-client (test extra) drives Chromium's DevTools protocol")
    with Browser(width=1280, height=900) as b:
        yield b


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_h100_report_loads_clean_and_offline(browser, open_trace, tmp_path, artifacts):
    t = open_trace(H100)
    data = build(t, t.analyze())
    page = tmp_path / "report.html"
    page.write_text(render_html(data), encoding="utf-8")
    loaded = browser.load(page)
    assert loaded.errors == []
    assert loaded.requests == []
    assert loaded.dialogs == []
    present = browser.evaluate("""[...document.querySelectorAll('section[id]')].map(s => s.id)""")
    for section in ("verdict", "metrics", "findings", "timeline", "breakdown", "kernels", "ranges", "trace"):
        assert section in present
    assert browser.evaluate("document.querySelectorAll('article.finding').length") == len(data.findings) > 0
    verdict = browser.evaluate("document.querySelector('#verdict').innerText")
    assert data.headline in verdict
    assert browser.evaluate("document.querySelectorAll('figure svg').length") >= 3
    # every chart drew something and the page does not scroll sideways at a laptop width
    assert browser.evaluate(
        "[...document.querySelectorAll('figure svg')].every(s => s.getBoundingClientRect().height > 60)"
    )
    assert browser.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    heading = browser.evaluate("document.querySelector('h1').textContent")
    assert heading == H100.name
    shot = browser.screenshot(artifacts / "report_h100.png")
    width, height = _png_size(shot)
    assert width == 1280 and height > 1500


def test_hostile_strings_run_no_script(browser, open_trace, tmp_path, artifacts):
    cmarkgfm = pytest.importorskip("cmarkgfm", reason="cmarkgfm (GitHub's Markdown renderer) is a test extra")
    from cmarkgfm.cmark import Options

    t = open_trace(hostile_copy(H100, tmp_path))
    data = build(t, t.analyze())
    html_page = tmp_path / "hostile.html"
    html_page.write_text(render_html(data), encoding="utf-8")
    # The Markdown as GitHub's renderer turns it into HTML, raw HTML let through (GitHub would also sanitise).
    md_page = tmp_path / "hostile_md.html"
    body = cmarkgfm.github_flavored_markdown_to_html(render_markdown(data), options=Options.CMARK_OPT_UNSAFE)
    md_page.write_text("<!DOCTYPE html><meta charset=utf-8><title>md</title>" + body, encoding="utf-8")
    for page in (html_page, md_page):
        loaded = browser.load(page)
        assert loaded.dialogs == [], f"{page.name}: a script ran"
        assert loaded.requests == [], f"{page.name}: <img src=x> was fetched"
        assert browser.evaluate("document.scripts.length") == 0
        assert browser.evaluate("document.images.length") == 0
        assert browser.evaluate("document.querySelectorAll('[onerror]').length") == 0
        text = browser.evaluate("document.body.textContent")  # includes closed <details>
        assert SCRIPT in text and IMG in text, page.name
    browser.load(html_page)
    browser.screenshot(artifacts / "report_hostile.png")


def test_stepped_report_draws_steps(browser, open_trace, tmp_path, artifacts):
    t = open_trace(stepped_copy(H100, tmp_path))
    page = tmp_path / "stepped.html"
    page.write_text(render_html(build(t, t.analyze())), encoding="utf-8")
    loaded = browser.load(page)
    assert loaded.errors == [] and loaded.requests == []
    assert browser.evaluate("document.querySelectorAll('#steps figure svg').length") == 1
    assert "p99" in browser.evaluate("document.querySelector('#steps').innerText")
    browser.screenshot(artifacts / "report_stepped.png")


@needs_shared
def test_gpu_metrics_chart_sits_under_the_timeline_on_its_time_axis(browser, open_trace, tmp_path, artifacts):
    """The real H200 GPU-metrics export (../shared/traces/PROVENANCE.md), its phases taken as steps: the counters row
    is drawn right under the device's utilisation row with the same plot width and x range, and the per-phase and
    per-step tables are on the page."""
    from tests.gpu_metric_edits import H200_METRICS

    t = open_trace(H200_METRICS)
    data = build(t, t.analyze(step_patterns=["^phase_[0-9]$"]))
    page = tmp_path / "gpu_metrics.html"
    page.write_text(render_html(data), encoding="utf-8")
    loaded = browser.load(page)
    assert loaded.errors == [] and loaded.requests == []
    box = """(id => { const r = document.getElementById(id).getBoundingClientRect();
                      return [r.left, r.right, r.top, r.bottom]; })"""
    busy = browser.evaluate(f"{box}('timeline-busy-gpu0')")
    counters = browser.evaluate(f"{box}('timeline-counters-gpu0')")
    assert busy[1] - busy[0] > 400  # a real plot area, not an empty group
    assert counters[0] == pytest.approx(busy[0], abs=1) and counters[1] == pytest.approx(busy[1], abs=1)
    assert busy[3] <= counters[2] < busy[3] + 60  # directly under it
    # both rows sit in the one timeline figure, so they share its time axis (matplotlib sharex)
    assert browser.evaluate(
        "document.getElementById('timeline-counters-gpu0').closest('svg') === "
        "document.getElementById('timeline-busy-gpu0').closest('svg')"
    )
    assert browser.evaluate("document.querySelector('#timeline svg').textContent.includes('Tensor Active')")
    steps = browser.evaluate(
        "[...document.querySelectorAll('#gpu-metrics table')].map(t => t.querySelectorAll('tbody tr').length)"
    )
    assert steps == [6, 6]  # six phases; the same six as steps
    browser.screenshot(artifacts / "report_gpu_metrics.png")
