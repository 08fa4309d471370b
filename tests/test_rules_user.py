"""User rules (--rules DIR), parameter overrides (--param) and what happens when a rule is malformed: the error
names the file and line, and every other rule still runs."""

from __future__ import annotations

import sqlite3

import pytest

from tests.conftest import NSYS_TRACES, needs_shared, run_cli

pytestmark = needs_shared

SAXPY = NSYS_TRACES / "a100_saxpy_mpi_nsys2022.2.sqlite"
CLOVER = NSYS_TRACES / "a100x4_cloverleaf_nsys2024.5.sqlite"

GOOD = """\
-- rule: long_kernels
-- title: Kernels longer than a threshold
-- severity: auto
-- group_by: device_id
-- param min_ns = 1000000: shortest kernel reported (ns)
-- summary: {n} kernel{s} on {gpu} ran longer than {p_min_ns:time}, {impact:time} in total; the longest is
--   {short_name} ({dur_ns:time}).
-- recommendation: Look at these kernels with Nsight Compute.
SELECT dur_ns AS impact_ns, start_ns, end_ns, dur_ns, device_id, pid, short_name
FROM kernels WHERE dur_ns >= $min_ns
"""

BROKEN = {
    # file name: (text, line the error must name, words the message must contain)
    "bad_header.sql": (
        "-- rule: bad_header\n-- title: x\n-- colour: red\n-- severity: low\nSELECT 1 AS impact_ns\n",
        3,
        "unexpected header line",
    ),
    "bad_syntax.sql": (
        "-- rule: bad_syntax\n-- title: x\n-- severity: low\n-- summary: s\n-- recommendation: r\n"
        "SELECT 1 AS impact_ns,\n  dur_ns\nFROMM kernels\n",
        8,
        "syntax error",
    ),
    "bad_column.sql": (
        "-- rule: bad_column\n-- title: x\n-- severity: low\n-- summary: s\n-- recommendation: r\n"
        "SELECT dur_ns AS impact_ns,\n  no_such_column\nFROM kernels\n",
        7,
        "no_such_column",
    ),
    "no_impact.sql": (
        "-- rule: no_impact\n-- title: x\n-- severity: low\n-- summary: s\n-- recommendation: r\n"
        "SELECT dur_ns FROM kernels\n",
        6,
        "impact_ns",
    ),
    "bad_template.sql": (
        "-- rule: bad_template\n-- title: x\n-- severity: low\n-- summary: {nope} here\n"
        "-- recommendation: r\nSELECT dur_ns AS impact_ns FROM kernels\n",
        4,
        "{nope}",
    ),
    "bad_param.sql": (
        "-- rule: bad_param\n-- title: x\n-- severity: low\n-- param = 3\n-- summary: s\n"
        "-- recommendation: r\nSELECT 1 AS impact_ns\n",
        4,
        "malformed parameter",
    ),
    "duplicate.sql": (
        "-- rule: gpu_gaps\n-- title: x\n-- severity: low\n-- summary: s\n-- recommendation: r\n"
        "SELECT 1 AS impact_ns\n",
        1,
        "already defined",
    ),
}


@pytest.fixture()
def rules_dir(tmp_path):
    d = tmp_path / "rules"
    d.mkdir()
    (d / "long_kernels.sql").write_text(GOOD)
    return d


def test_user_rule_finds_what_sqlite_finds(rules_dir, open_trace):
    a = open_trace(CLOVER).analyze(rules_dirs=[rules_dir])
    assert a.rule_errors == []
    (f,) = [f for f in a.findings if f.rule_id == "long_kernels"]
    n, total, longest = (
        sqlite3.connect(f"file:{CLOVER}?mode=ro", uri=True)
        .execute(
            'SELECT count(*), sum("end" - start), max("end" - start) FROM CUPTI_ACTIVITY_KIND_KERNEL '
            'WHERE "end" - start >= 1000000'
        )
        .fetchone()
    )
    assert (f.evidence_total, f.impact_ns) == (n, total)
    assert f.summary.startswith(f"{n} kernels on GPU 0 ran longer than 1 ms")
    assert f.evidence.column("impact_ns")[0].as_py() == longest
    assert any(r.id == "long_kernels" and r.source.endswith("long_kernels.sql") for r in a.rules)


def test_param_override_reaches_the_user_rule(rules_dir, open_trace):
    a = open_trace(CLOVER).analyze(rules_dirs=[rules_dir], params={"long_kernels": {"min_ns": "1500000"}})
    (f,) = [f for f in a.findings if f.rule_id == "long_kernels"]
    assert all(r["dur_ns"] >= 1_500_000 for r in f.evidence.to_pylist())
    assert next(r for r in a.rules if r.id == "long_kernels").params == {"min_ns": 1_500_000}


def test_malformed_rules_name_file_and_line_and_the_rest_still_run(rules_dir, open_trace):
    for name, (text, _, _) in BROKEN.items():
        (rules_dir / name).write_text(text)
    a = open_trace(CLOVER).analyze(rules_dirs=[rules_dir])
    for name, (_, line, words) in BROKEN.items():
        hits = [e for e in a.rule_errors if e.startswith(f"{rules_dir / name}:{line}:")]
        assert len(hits) == 1 and words in hits[0], (name, a.rule_errors)
    assert len(a.rule_errors) == len(BROKEN)
    ran = {f.rule_id for f in a.findings}
    assert {"long_kernels", "cuda_api_sync", "cuda_memcpy_sync", "sync_stall"} <= ran


def test_cli_prints_rule_errors_as_warnings_and_still_succeeds(rules_dir, cache_dir):
    (rules_dir / "bad_header.sql").write_text(BROKEN["bad_header.sql"][0])
    r = run_cli("analyze", CLOVER, "--rules", rules_dir, "-f", "json", "--cache-dir", cache_dir)
    assert r.returncode == 0
    assert f"inferscope: warning: {rules_dir / 'bad_header.sql'}:3: unexpected header line" in r.stderr
    assert '"rule_id": "long_kernels"' in r.stdout


@pytest.mark.parametrize(
    "args,message",
    [
        (["--param", "gpu_gaps.gap_ns=abc"], "--param gpu_gaps.gap_ns='abc': expected a int"),
        (["--param", "no_rule.x=1"], "--param no_rule.…: no rule 'no_rule'"),
        (["--param", "gpu_gaps.nope=1"], "rule gpu_gaps has no parameter 'nope' (its parameters: gap_ns)"),
        (["--param", "gpu_gaps"], "expected RULE.KEY=VALUE"),
        (["--rules", "/nonexistent/rules"], "--rules /nonexistent/rules: not a directory"),
        (["--format", "pdf"], "unknown format 'pdf'"),
        (["--step-pattern", "(unclosed"], "--step-pattern '(unclosed': not a valid regular expression"),
    ],
)
def test_cli_user_mistakes_exit_2_with_one_line(args, message, cache_dir):
    r = run_cli("analyze", SAXPY, *args, "--cache-dir", cache_dir)
    assert r.returncode == 2
    assert r.stderr.startswith("inferscope: error: ") and message in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and r.stdout == ""


def test_cli_param_changes_the_result(cache_dir):
    import json

    default = json.loads(run_cli("analyze", SAXPY, "-f", "json", "--cache-dir", cache_dir).stdout)
    tuned = json.loads(
        run_cli("analyze", SAXPY, "-f", "json", "--param", "gpu_gaps.gap_ns=1000000", "--cache-dir", cache_dir).stdout
    )
    assert not [f for f in default["findings"] if f["rule_id"] == "gpu_gaps"]
    (gaps,) = [f for f in tuned["findings"] if f["rule_id"] == "gpu_gaps"]
    assert gaps["evidence_total"] == 4  # nsys analyze gpu-starv:gap=1 lists the same four (parity test)
    assert next(r for r in tuned["rules"] if r["id"] == "gpu_gaps")["params"] == {"gap_ns": 1_000_000}
