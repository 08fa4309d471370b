"""What the commands write: files (mode, name, the `wrote` line), terminal tables and the configuration listing.

All through the real `python -m inferscope` on the bundled sample trace.
"""

from __future__ import annotations

import csv
import io
import json
import stat
import subprocess

import pytest

from inferscope.outputs import human_size

from .conftest import SAMPLES, run_cli

SAMPLE = SAMPLES / "h100_2gpu_fastvideo.sqlite"


def _run_with_umask(umask: int, *args, cwd=None) -> subprocess.CompletedProcess:
    """The CLI as a user with this umask runs it (the umask is inherited, as from a shell)."""
    return run_cli(*args, cwd=cwd, umask=umask)


def _wrote_lines(stderr: str) -> list[str]:
    return [ln for ln in stderr.splitlines() if ln.startswith("wrote ")]


def _assert_written(r, *paths, umask: int):
    assert r.returncode in (0, 1), r.stderr  # compare exits 1 on a regression, still writing its reports
    lines = _wrote_lines(r.stderr)
    for path in paths:
        assert f"wrote {path} ({human_size(path.stat().st_size)})" in lines, r.stderr
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask, (path, oct(path.stat().st_mode))
        assert not [p for p in path.parent.iterdir() if p.name.startswith(f".{path.name}.")]  # no temp left


@pytest.mark.parametrize("umask", [0o022, 0o077], ids=["022", "077"])
def test_analyze_file_mode_follows_the_umask_and_is_announced(tmp_path, cache_dir, umask):
    out = tmp_path / "analysis.json"
    r = _run_with_umask(umask, "analyze", SAMPLE, "-o", out, "--cache-dir", cache_dir)
    _assert_written(r, out, umask=umask)
    assert json.loads(out.read_text())["findings"] is not None
    assert r.stdout == ""


@pytest.mark.parametrize("umask", [0o022, 0o077], ids=["022", "077"])
def test_compare_report_and_junit_mode_follow_the_umask(tmp_path, cache_dir, umask):
    report, junit = tmp_path / "compare.md", tmp_path / "compare.xml"
    r = _run_with_umask(
        umask,
        "compare",
        SAMPLE,
        SAMPLE,
        "-o",
        report,
        "--junit",
        junit,
        "--no-analysis-metrics",
        "--cache-dir",
        cache_dir,
    )
    _assert_written(r, report, junit, umask=umask)
    assert junit.read_text().startswith("<?xml")


@pytest.mark.parametrize("umask", [0o022, 0o077], ids=["022", "077"])
def test_export_perfetto_mode_follows_the_umask(tmp_path, cache_dir, umask):
    out = tmp_path / "trace.json"
    r = _run_with_umask(umask, "export-perfetto", SAMPLE, "-o", out, "--no-findings", "--cache-dir", cache_dir)
    _assert_written(r, out, umask=umask)


def test_export_perfetto_still_takes_the_old_out_spelling(tmp_path, cache_dir):
    out = tmp_path / "old.json"
    r = run_cli("export-perfetto", SAMPLE, "--out", out, "--no-findings", "--cache-dir", cache_dir)
    assert r.returncode == 0, r.stderr
    assert "inferscope: warning: --out is deprecated; use -o/--output" in r.stderr
    assert json.loads(out.read_text())["traceEvents"]


def test_unknown_output_suffix_is_refused_unless_the_format_is_given(tmp_path, cache_dir):
    pdf = tmp_path / "report.pdf"
    r = run_cli("analyze", SAMPLE, "-o", pdf, "--cache-dir", cache_dir)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1 and "Traceback" not in r.stderr
    assert lines[0].startswith(f"inferscope: error: -o {pdf}: unknown suffix '.pdf'")
    assert all(s in lines[0] for s in (".json", ".md", ".html", ".txt", "-f"))
    assert not list(tmp_path.iterdir())
    r = run_cli("analyze", SAMPLE, "-o", pdf, "-f", "json", "--cache-dir", cache_dir)
    assert r.returncode == 0, r.stderr
    assert json.loads(pdf.read_text())["schema_version"]


@pytest.mark.parametrize("name", ["trace.pdf", "trace.html", "trace"])
def test_export_perfetto_refuses_a_name_that_is_not_json(name, tmp_path, cache_dir):
    """It writes one format, Chrome-trace JSON: `-o trace.pdf` wrote JSON under that name."""
    target = tmp_path / name
    r = run_cli("export-perfetto", SAMPLE, "-o", target, "--no-findings", "--cache-dir", cache_dir)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    assert lines[0].startswith(f"inferscope: error: -o {target}: ") and "end the name in .json" in lines[0]
    assert not list(tmp_path.iterdir())


def test_compare_takes_its_format_from_the_output_suffix(tmp_path, cache_dir):
    txt = tmp_path / "compare.txt"
    r = run_cli("compare", SAMPLE, SAMPLE, "-o", txt, "--no-analysis-metrics", "--cache-dir", cache_dir)
    assert r.returncode == 2 and "unknown suffix '.txt'" in r.stderr and not txt.exists()
    as_json = tmp_path / "compare.json"
    r = run_cli("compare", SAMPLE, SAMPLE, "-o", as_json, "--no-analysis-metrics", "--cache-dir", cache_dir)
    assert r.returncode == 0, r.stderr
    assert isinstance(json.loads(as_json.read_text()), dict)


# --- terminal tables ------------------------------------------------------------------------------------------


def _nvtx_rows(cache_dir) -> int:
    r = run_cli("stats", SAMPLE, "-r", "nvtx_sum", "-f", "csv", "--cache-dir", cache_dir)
    assert r.returncode == 0, r.stderr
    return len(list(csv.reader(io.StringIO(r.stdout)))) - 1


def test_terminal_table_shows_the_top_rows_and_says_how_many_more(cache_dir):
    total = _nvtx_rows(cache_dir)
    assert total > 10_000  # the sample's NVTX summary: the table that took Rich 20 s to lay out
    r = run_cli("stats", SAMPLE, "-r", "nvtx_sum", "--cache-dir", cache_dir)
    assert r.returncode == 0, r.stderr
    assert r.stdout.rstrip().endswith(f"\u2026 {total - 50:,} more rows; use -f csv or --limit 0 for all")
    r = run_cli("stats", SAMPLE, "-r", "nvtx_sum", "--limit", "7", "--cache-dir", cache_dir)
    assert f"{total - 7:,} more rows" in r.stdout


def test_limit_0_prints_every_row(cache_dir):
    r = run_cli("stats", SAMPLE, "-r", "cuda_gpu_mem_size_sum", "--limit", "0", "--cache-dir", cache_dir)
    assert r.returncode == 0, r.stderr
    assert "more rows" not in r.stdout and "cuda_gpu_mem_size_sum" in r.stdout


def _terminal_cells(text: str) -> list[list[str]]:
    """The data rows of a Rich table as printed: the first line of each row (names fold onto further lines, whose
    numeric cells are blank)."""
    rows = []
    for line in text.splitlines():
        if line.startswith("\u2502"):
            cells = [c.strip() for c in line.strip("\u2502").split("\u2502")]
            if cells[0]:
                rows.append(cells)
    return rows


def test_a_table_wider_than_the_console_keeps_every_number_whole(cache_dir):
    """cuda_kern_exec_sum has 27 columns: fitted to 220 characters, Rich cut numbers to '428,52…' and squeezed PID,
    TID and the names to nothing. Every number must be printed whole: here compared with the CSV of the same
    report, formatted with thousands separators as the terminal table writes them."""
    args = ("stats", SAMPLE, "-r", "cuda_kern_exec_sum", "--limit", "5", "--cache-dir", cache_dir)
    table = run_cli(*args)
    assert table.returncode == 0, table.stderr
    data = run_cli(*args, "-f", "csv")
    header, *records = list(csv.reader(io.StringIO(data.stdout)))
    shown = _terminal_cells(table.stdout)
    assert len(shown) == 5 and all("\u2026" not in c for row in shown for c in row), table.stdout
    for printed, record in zip(shown, records):
        for name, value, cell in zip(header, record, printed):
            if name.endswith("Name"):
                assert value.startswith(cell), (name, value, cell)  # folded onto the next lines
            elif "." in value:
                assert cell == f"{float(value):,.1f}", (name, value, cell)
            else:
                assert cell == f"{int(value):,}", (name, value, cell)


def test_table_cells_are_text_not_rich_markup(cache_dir):
    r = run_cli(
        "query", SAMPLE, "SELECT '[/x]' AS \"[b]name\", '[bold red]k[/bold red]<T>' AS tag", "--cache-dir", cache_dir
    )
    assert r.returncode == 0, r.stderr
    assert "[/x]" in r.stdout and "[bold red]k[/bold red]<T>" in r.stdout and "[b]name" in r.stdout


# --- configuration listing -----------------------------------------------------------------------------------


def test_config_lists_the_default_step_and_phase_patterns(tmp_path):
    r = run_cli("config", "-f", "json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    rows = {row["key"]: row for row in json.loads(r.stdout)["settings"]}
    assert rows["steps.patterns"]["source"] == "default"
    assert rows["steps.patterns"]["value"][0] == "^ProfilerStep#[0-9]+$"
    assert rows["phases.prefill"]["source"] == rows["phases.decode"]["source"] == "default"
    assert rows["analyze.rules_dirs"] == {"key": "analyze.rules_dirs", "value": [], "source": "default"}
    table = run_cli("config", cwd=tmp_path, env={"COLUMNS": "250"}).stdout
    assert "steps.patterns" in table and "phases.prefill" in table and "ProfilerStep" in table


def test_config_a_phase_set_anywhere_replaces_the_default_phase_rows(tmp_path):
    (tmp_path / "inferscope.toml").write_text('[phases]\ngeneration = ["^gen"]\n[steps]\npatterns = ["^it$"]\n')
    r = run_cli("config", "-f", "json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    rows = {row["key"]: row for row in json.loads(r.stdout)["settings"]}
    assert "phases.prefill" not in rows and "phases.decode" not in rows
    assert rows["phases.generation"]["value"] == ["^gen"] and rows["phases.generation"]["source"].startswith("file")
    assert rows["steps.patterns"]["value"] == ["^it$"] and rows["steps.patterns"]["source"].startswith("file")


def test_default_pattern_rows_do_not_reach_the_analysis():
    """The rows are for reading: analysis must keep running its ranked SQL views when nothing is configured."""
    from inferscope.config import load_config

    cfg = load_config(environ={}, use_file=False)
    assert cfg.settings["steps.patterns"].source == "default"
    assert cfg.step_patterns is None and cfg.phase_patterns == {}


def test_csv_and_json_written_in_pieces_are_the_whole_documents(cache_dir, open_trace):
    """`stats -f csv/json` write long reports a piece at a time (long names would otherwise be held once more):
    the text is still exactly one CSV / one JSON document of every row. The sample's nvtx_sum has over a
    thousand rows, so it spans several pieces."""
    from inferscope.cli._common import _CHUNK_ROWS

    rows = open_trace(SAMPLE).stats("nvtx_sum").rows()
    assert len(rows) > 2 * _CHUNK_ROWS
    as_json = run_cli("stats", SAMPLE, "-r", "nvtx_sum", "-f", "json", "--cache-dir", cache_dir)
    assert as_json.returncode == 0, as_json.stderr
    assert as_json.stdout == json.dumps(rows, indent=1, default=str) + "\n"
    as_csv = run_cli("stats", SAMPLE, "-r", "nvtx_sum", "-f", "csv", "--cache-dir", cache_dir)
    assert as_csv.returncode == 0, as_csv.stderr
    read = list(csv.reader(io.StringIO(as_csv.stdout)))
    assert read[0] == list(rows[0]) and len(read) == len(rows) + 1
    assert [r[-1] for r in read[1:]] == [r["Range"] for r in rows]


# --- stats written as the rows come (issue 17, class 8) -------------------------------------------------------


def _printed(table, fmt: str, limit: int = 0) -> str:
    from inferscope.cli._common import print_table

    out = io.StringIO()
    print_table(table, fmt, title="t", out=out, limit=limit)
    return out.getvalue()


@pytest.mark.parametrize("fmt", ["csv", "json", "table"])
def test_streamed_stats_print_what_the_whole_result_prints(fmt, tmp_path):
    """Every default report, including osrt_sum, which has no rows on the sample: the header (CSV), `[]` (JSON)
    and the "(no rows)" line (table) come out as from the whole result; a terminal table keeps only its first
    rows and says how many more there were."""
    import inferscope
    from inferscope.engine.stats import DEFAULT_REPORTS

    t = inferscope.open(SAMPLE, cache_dir=tmp_path)
    try:
        seen_empty = False
        for name in DEFAULT_REPORTS:
            whole = t.stats(name).result
            seen_empty |= whole.num_rows == 0
            streamed = t.stats_stream(name)
            if fmt == "table":
                head = streamed.head(5)
                assert head.num_rows == whole.num_rows and len(head.rows) == min(5, whole.num_rows)
                assert _printed(head, fmt, limit=5) == _printed(whole, fmt, limit=5), name
            else:
                text = _printed(streamed, fmt)
                assert text == _printed(whole, fmt), name
                if fmt == "csv":  # the header, also for a report without rows
                    assert next(csv.reader(io.StringIO(text))) == whole.column_names, name
                    assert len(list(csv.reader(io.StringIO(text)))) == whole.num_rows + 1, name
                else:
                    assert len(json.loads(text)) == whole.num_rows, name
        assert seen_empty  # the empty-report case was exercised
    finally:
        t.close()
