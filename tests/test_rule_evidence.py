"""A rule that returns very many evidence rows keeps them in DuckDB and takes out only what its findings keep
(analyze/rule_evidence.py). Its findings must be those of the Arrow path, which the rest of the suite checks
against plain-Python restatements: here every rule of real traces runs both ways, with the threshold at zero so
that every rule with any rows takes the DuckDB path, and with parameters that make the rules return many rows."""

from __future__ import annotations

import pyarrow as pa
import pytest

import inferscope
from inferscope.analyze import rule_evidence, rule_steady
from inferscope.analyze.rule_steady import WarmupWindow
from tests.conftest import KINETO_TRACES, SAMPLES, TRACES, needs_shared

SAMPLE = SAMPLES / "h100_2gpu_fastvideo.sqlite"

# gpu_gaps lists every gap over 1 µs (hundreds to thousands of rows), the launch and sync rules every call
LOOSE = {"gpu_gaps": {"gap_ns": "1000"}}


def _findings(trace, cache_dir, params=None) -> list[dict]:
    with inferscope.open(trace, cache_dir=cache_dir) as t:
        analysis = t.analyze(params=params)
    return [f.to_dict(evidence_rows=None) for f in analysis.findings], [r.error for r in analysis.rules]


@needs_shared
@pytest.mark.parametrize(
    "trace",
    [
        SAMPLE,
        TRACES / "nsys/h200_nvfuser_matmul_nsys2024.6.sqlite",  # steady-state rules with warm-up windows
        # the two slowest (~10 s each) once, in the main run, not per CI variant
        pytest.param(TRACES / "h200/h200_llm_decode_eager.json.gz", marks=pytest.mark.heavy),
        pytest.param(TRACES / "h200/h200_serving_continuous_batching.json.gz", marks=pytest.mark.heavy),
        KINETO_TRACES / "alexnet_cuda_sync.json.gz",
    ],
    ids=lambda p: p.name,
)
@pytest.mark.parametrize("params", [None, LOOSE], ids=["defaults", "loose"])
def test_findings_kept_in_duckdb_equal_the_arrow_ones(trace, params, tmp_path, monkeypatch):
    if not trace.exists():
        pytest.skip(f"{trace} not found")
    stored = []
    real = rule_evidence.StoredEvidence

    def counted(*a, **kw):
        stored.append(real(*a, **kw))
        return stored[-1]

    arrow = _findings(trace, tmp_path / "a", params)
    monkeypatch.setattr(rule_evidence, "EVIDENCE_IN_MEMORY", 0)
    monkeypatch.setattr(rule_evidence, "StoredEvidence", counted)
    kept = _findings(trace, tmp_path / "b", params)
    assert arrow[0], "the trace gives findings"
    assert any(s.num_rows > 1 for s in stored), "rules with rows took the DuckDB path"
    assert kept == arrow


def test_a_group_s_figures_cover_all_its_rows_and_keep_its_first_ones(tmp_path):
    """Two groups, one of 30,000 rows: n, impact, sums and the one pid come from all rows; the rows kept are the
    first in evidence order (highest impact, ties by the other columns); the windows are the first timed rows'."""
    import duckdb

    con = duckdb.connect()
    sql = """SELECT i % 2 AS device_id, 7 AS pid, (i * 37) % 1000 AS impact_ns,
                    CASE WHEN i % 5 = 0 THEN NULL ELSE i END AS start_ns, i + 10 AS end_ns, i::DOUBLE / 3 AS x
             FROM range(60000) t(i)"""
    ev = rule_evidence.StoredEvidence(con, sql, None, ["device_id"])
    try:
        groups = ev.groups(False, top=50, max_windows=4, max_rows=100)
    finally:
        ev.close()
    assert con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name LIKE '_evidence_%'").fetchall()[0][0] == 0
    table = con.sql(sql).to_arrow_table()
    for g in groups:
        dev = g.ids["device_id"]
        rows = [r for r in table.to_pylist() if r["device_id"] == dev]
        assert g.n == len(rows) == 30000
        assert g.impact == sum(r["impact_ns"] for r in rows)
        assert g.ids["pid"] == 7
        assert g.numbers["sum_x"] == pytest.approx(sum(r["x"] for r in rows))
        assert g.numbers["max_start_ns"] == max(r["start_ns"] for r in rows if r["start_ns"] is not None)
        assert g.numbers["avg_impact_ns"] == pytest.approx(g.impact / len(rows))

        def key(r):
            return (-r["impact_ns"], r["start_ns"] is None, r["start_ns"] or 0, r["end_ns"], r["x"])

        ordered = sorted(rows, key=key)
        assert g.rows.num_rows == 100
        assert g.rows.to_pylist() == ordered[:100]
        timed = [(r["start_ns"], r["end_ns"]) for r in ordered if r["start_ns"] is not None][:4]
        assert g.windows == sorted(timed)
    assert [g.ids["device_id"] for g in groups] == sorted(
        {0, 1}, key=lambda d: -sum(r["impact_ns"] for r in table.to_pylist() if r["device_id"] == d)
    )


def test_warm_up_rows_are_told_apart_in_duckdb_as_in_arrow():
    """rule_steady.warm_condition is warm_mask in SQL: rows with and without times, with and without a pid, of a
    process with a window, of one without, and of one that is mostly start-up."""
    import duckdb

    wins = {
        1: WarmupWindow(1, 100, 200, 10.0, "x"),
        2: WarmupWindow(2, 0, 1000, 95.0, "y"),
    }
    rows = [
        (pid, s, e)
        for pid in (1, 2, 3, None)
        for s, e in ((120, 150), (90, 150), (150, 250), (None, None), (500, 600), (None, 5))
    ]
    table = pa.table(
        {
            "pid": pa.array([r[0] for r in rows], pa.int64()),
            "start_ns": pa.array([r[1] for r in rows], pa.int64()),
            "end_ns": pa.array([r[2] for r in rows], pa.int64()),
        }
    )
    con = duckdb.connect()
    con.register("ev", table)
    for cols in (["pid", "start_ns", "end_ns"], ["pid"], ["start_ns", "end_ns"]):
        for w in (wins, {1: wins[1]}, {2: wins[2]}):
            sub = table.select(cols)
            want = rule_steady.warm_mask(sub, w)
            got = [r[0] for r in con.execute(f"SELECT {rule_steady.warm_condition(cols, w)} FROM ev").fetchall()]
            assert got == want, (cols, list(w))


def test_a_rule_error_on_the_duckdb_path_is_the_rule_s(tmp_path, monkeypatch):
    """A rule that fails while its rows are kept in DuckDB is recorded on its run, as on the Arrow path."""
    monkeypatch.setattr(rule_evidence, "EVIDENCE_IN_MEMORY", 0)
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "bad_cast.sql").write_text(
        "-- rule: bad_cast\n-- title: Bad cast\n-- severity: auto\n-- summary: {n} rows\n"
        "-- recommendation: none\n-- why: a test\n"
        "SELECT CAST(name AS INTEGER) AS impact_ns FROM kernels\n"
    )
    with inferscope.open(SAMPLE, cache_dir=tmp_path / "c") as t:
        analysis = t.analyze(rules_dirs=[rules])
    run = next(r for r in analysis.rules if r.id == "bad_cast")
    assert run.error and "bad_cast" in run.error
