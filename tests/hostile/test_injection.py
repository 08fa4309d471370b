"""One hostile string through every output InferScope writes (issue 17, item 4).

Kernel names, NVTX text and trace file names are chosen by whoever wrote or ran the profiled program. Each sink
has its own way of being attacked: Rich markup (`[/x]` crashed the table, `[link=...]` became a live link), raw
terminal escapes (colour, OSC 8 links, BEL), XML 1.0's forbidden characters (a JUnit file no CI viewer can parse),
GitHub workflow commands (a line starting `::error::` is executed by the runner) and Markdown (a live <img>, a
newline that starts a line of its own). The trace is a real nsys export with one kernel (both its names), one
NVTX range and the file name replaced by the string; every command runs as a user runs it, in a subprocess.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import sqlite3
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from inferscope.errors import visible
from tests.conftest import SAMPLES, TRACES, needs_shared, run_cli

# real recordings, signals, mounts or every output format: once in CI, not per Python variant
pytestmark = pytest.mark.heavy

HOSTILE = "[/x] [link=https://e.x]y[/link] \x1b[31mRED\x1b[0m <img src=x onerror=alert(1)> \n::error::pwn %0A & \" ' \x00 \x07 \u202e"
# a file name cannot hold '/' or NUL; everything else (ESC, BEL, newline, '<') it can. "%0A" is left out too: this
# whole name with it fails to open in DuckDB's SQLite reader ("unable to open database file"), an ingest problem
FILE_HOSTILE = HOSTILE.replace("/", "").replace("\x00", "").replace(" %0A", "")
SOURCE = SAMPLES / "h100_2gpu_fastvideo.sqlite"
RAW_TERMINAL = ("\x1b", "\x07", "\x9b", "\x00")  # ESC (colour, cursor, OSC 8 links), BEL, one-byte CSI, NUL


def _hostile_export(src: Path, dst: Path, slower: float = 1.0) -> Path:
    """Copy of the export with the kernel of most GPU time renamed (short and demangled name) to HOSTILE + its
    name, the most frequent NVTX range renamed to HOSTILE, and that kernel `slower` times longer."""
    shutil.copy(src, dst)
    dst.chmod(0o644)
    with sqlite3.connect(dst) as con:
        short, demangled = con.execute(
            'SELECT shortName, demangledName FROM CUPTI_ACTIVITY_KIND_KERNEL GROUP BY 1, 2 ORDER BY sum("end" - start) DESC LIMIT 1'
        ).fetchone()
        con.execute("UPDATE StringIds SET value = ? || ' ' || value WHERE id IN (?, ?)", (HOSTILE, short, demangled))
        (text,) = con.execute(
            "SELECT text FROM NVTX_EVENTS WHERE text IS NOT NULL GROUP BY text ORDER BY count(*) DESC LIMIT 1"
        ).fetchone()
        con.execute("UPDATE NVTX_EVENTS SET text = ? WHERE text = ?", (HOSTILE, text))
        if slower != 1.0:
            con.execute(
                'UPDATE CUPTI_ACTIVITY_KIND_KERNEL SET "end" = start + CAST(("end" - start) * ? AS INTEGER) '
                "WHERE shortName = ?",
                (slower, short),
            )
    con.close()
    return dst


@pytest.fixture(scope="module")
def traces(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("hostile")
    return {
        "base": _hostile_export(SOURCE, d / f"{FILE_HOSTILE} base.sqlite"),
        "new": _hostile_export(SOURCE, d / f"{FILE_HOSTILE} new.sqlite", slower=1.5),
        "cache": d / "cache",
    }


def _ok(r) -> str:
    """The command succeeded without a traceback (Rich's MarkupError was one); its stdout."""
    assert "Traceback" not in r.stderr and "Error" not in r.stderr.split(":", 1)[0], r.stderr
    return r.stdout


def _assert_terminal_safe(text: str) -> None:
    assert not [c for c in RAW_TERMINAL if c in text], repr(text[:2000])
    assert "\u202e" not in text  # bidi override shown as \u202e, not applied
    assert "\\x1b[31mRED" in text  # the name is there, its ESC written out
    assert "[/x]" in text  # markup-like text printed literally (not a closing tag, not a crash)


def _strings(obj):
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from _strings(k)
            yield from _strings(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _strings(v)


def _assert_json_keeps(text: str, *originals: str) -> None:
    """JSON is for programs: the exact string comes back, NUL, ESC and newline included."""
    found = list(_strings(json.loads(text)))
    for original in originals:
        assert any(original in s for s in found), original


def _markdown_safe(md: str) -> None:
    """What GitHub would show: no live <img>, no line a CI log would run as a workflow command, no raw ESC."""
    from tests.test_report import _gfm as render_gfm

    html = render_gfm(md)
    assert "<img" not in html and "onerror" not in html.replace("onerror=alert", "")
    assert not [line for line in md.splitlines() if line.lstrip().startswith("::")], md
    assert not [line for line in html.splitlines() if line.lstrip().startswith("::")]
    assert not [c for c in RAW_TERMINAL if c in md]
    assert 'href="https://e.x' not in html


@pytest.mark.parametrize("fmt", ["table", "csv", "json"])
def test_stats_and_query(traces, fmt):
    stats = _ok(
        run_cli(
            "stats",
            traces["base"],
            "-r",
            "cuda_gpu_kern_sum",
            "-r",
            "nvtx_sum",
            "-f",
            fmt,
            "--cache-dir",
            traces["cache"],
        )
    )
    query = _ok(
        run_cli(
            "query", traces["base"], "SELECT name FROM kernels GROUP BY name", "-f", fmt, "--cache-dir", traces["cache"]
        )
    )
    for out in (stats, query):
        if fmt == "table":
            _assert_terminal_safe(out)
            assert "[link=https://e.x]y[/link]" in out.replace("\n", "")  # a tag shown, not a link made
        elif fmt == "csv":
            cells = [c for row in csv.reader(io.StringIO(out)) for c in row]
            # CSV keeps the raw name; only NUL, which the csv module of 3.10 refuses, becomes U+FFFD
            assert any(HOSTILE.replace("\x00", "\ufffd") in c for c in cells)
        else:
            _assert_json_keeps(out, HOSTILE)


def test_analyze_every_format(traces, tmp_path):
    terminal = _ok(run_cli("analyze", traces["base"], "--cache-dir", traces["cache"]))
    assert not [c for c in RAW_TERMINAL if c in terminal], repr(terminal[:2000])
    assert "\\x1b[31mRED" in terminal and "\\x07" in terminal  # the file name, its ESC and BEL written out

    for suffix in ("md", "html", "json"):
        out = tmp_path / f"report.{suffix}"
        _ok(run_cli("analyze", traces["base"], "-o", out, "--cache-dir", traces["cache"]))
        text = out.read_text(encoding="utf-8")
        if suffix == "md":
            _markdown_safe(text)
        elif suffix == "html":
            # HTML escapes markup (a browser shows an ESC as nothing; the page also forbids scripts by CSP)
            assert "<img src=x" not in text and "&lt;img src=x onerror=alert(1)&gt;" in text
        else:
            _assert_json_keeps(text, HOSTILE, str(traces["base"]))


def test_compare_every_format(traces, tmp_path):
    junit = tmp_path / "compare.xml"
    args = ("compare", traces["base"], traces["new"], "--cache-dir", traces["cache"])
    md = run_cli(*args, "-f", "md", "--junit", junit)
    assert md.returncode == 1, md.stderr  # the renamed kernel is 50 % slower: a regression, named by the string
    _markdown_safe(md.stdout)
    assert "RED" in md.stdout and FILE_HOSTILE.split()[0] in md.stdout

    root = ET.parse(junit).getroot()  # parses: no NUL, ESC or BEL left in the XML
    names = [case.get("name") for case in root.iter("testcase")]
    # compare shows names as matched (whitespace squeezed); the name is there, its ESC written out
    assert any("[/x] [link=https://e.x]y[/link] \\x1b[31mRED" in n and "::error::pwn" in n for n in names), names
    failures = [f.get("message") for f in root.iter("failure")]
    assert any("\\x1b[31mRED" in m for m in failures)
    props = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert props["base"] == visible(traces["base"])

    gh = run_cli(*args, "-f", "github", env={"GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md")})
    assert gh.returncode == 1, gh.stderr
    lines = gh.stdout.splitlines()
    assert lines and all(re.match(r"::(error|warning|notice) title=[^:]*::", line) for line in lines), gh.stdout
    assert not [c for c in RAW_TERMINAL if c in gh.stdout]
    assert any("%250A" in line and "\\x1b[31mRED" in line for line in lines)  # '%' encoded, ESC shown
    _markdown_safe((tmp_path / "summary.md").read_text(encoding="utf-8"))

    js = run_cli(*args, "-f", "json")
    assert js.returncode == 1, js.stderr
    # compare keys kernels by their matched name (whitespace squeezed): raw ESC kept, and the file names exactly
    _assert_json_keeps(js.stdout, "[/x] [link=https://e.x]y[/link] \x1b[31mRED\x1b[0m", str(traces["base"]))


def test_export_perfetto(traces, tmp_path):
    out = tmp_path / "trace.json"
    _ok(run_cli("export-perfetto", traces["base"], "-o", out, "--cache-dir", traces["cache"]))
    _assert_json_keeps(out.read_text(encoding="utf-8"), HOSTILE)


def test_cache_list_and_clear(traces, tmp_path):
    """The cache lists the file each entry came from: a hostile file name is shown escaped in the table (Rich
    strips BEL but passed ESC raw) and in what `cache clear` prints; JSON keeps it exactly."""
    cache = tmp_path / "cache"
    _ok(run_cli("stats", traces["base"], "-f", "csv", "--cache-dir", cache))
    table = _ok(run_cli("cache", "list", "--cache-dir", cache))
    assert not [c for c in RAW_TERMINAL if c in table], repr(table)
    assert "\\x1b[31mRED" in table.replace("\n", "")
    listed = json.loads(_ok(run_cli("cache", "list", "-f", "json", "--cache-dir", cache)))
    assert [e["source"] for e in listed["entries"]] == [str(traces["base"])]
    cleared = _ok(run_cli("cache", "clear", traces["base"], "--cache-dir", cache))
    assert not [c for c in RAW_TERMINAL if c in cleared], repr(cleared)
    assert "\\x1b[31mRED" in cleared and "freed" in cleared


@needs_shared
def test_fleet_every_format(tmp_path):
    """A fleet is named by its rank files: two real DLRM rank traces, renamed to the hostile string, with their
    busiest kernel renamed too, analysed as a fleet in every format."""
    import gzip
    from collections import Counter

    fleet = tmp_path / "fleet"
    fleet.mkdir()
    for rank in (0, 1):
        (src,) = (TRACES / "fleet" / "dlrm_v100x8_ddp").glob(f"worker{rank}_step_12.*.pt.trace.json.gz")
        doc = json.loads(gzip.decompress(src.read_bytes()))
        top = Counter(e["name"] for e in doc["traceEvents"] if e.get("cat") == "kernel").most_common(1)[0][0]
        for e in doc["traceEvents"]:
            if e.get("name") == top:
                e["name"] = f"{HOSTILE} {top}"
        (fleet / f"{FILE_HOSTILE} rank{rank}.pt.trace.json.gz").write_bytes(gzip.compress(json.dumps(doc).encode()))
    cache = tmp_path / "cache"
    for fmt in ("json", "terminal", "md", "html"):
        r = run_cli("analyze", fleet, "--fleet", "-f", fmt, "--cache-dir", cache)
        out = _ok(r)
        assert r.returncode == 0, r.stderr
        assert not [c for c in RAW_TERMINAL if c in r.stderr], repr(r.stderr)  # progress lines name the files
        if fmt == "json":  # the rank files by their exact names
            _assert_json_keeps(out, FILE_HOSTILE + " rank0", FILE_HOSTILE + " rank1")
            continue
        assert not [c for c in RAW_TERMINAL if c in out], (fmt, repr(out[:2000]))
        if fmt == "md":
            _markdown_safe(out)
        elif fmt == "html":
            assert "<img src=x" not in out
