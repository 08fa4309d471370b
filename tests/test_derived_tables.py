"""Derived tables stored with the cached model (inferscope/engine/derived_tables.py): a warm analysis that reads
them must write exactly what an analysis without any cache writes, and a stored table must never be read
where the patterns, the window or the definitions that shaped it differ."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests import golden_outputs
from tests.conftest import TRACES, needs_shared

pytestmark = needs_shared

# steps from the default patterns, several GPUs, Kineto with and without steps, a metrics export
CASES = [
    "nsys/h100_2gpu_fastvideo.sqlite",
    "nsys/a100x4_cloverleaf_nsys2024.5.sqlite",
    "kineto/v100_rank1_train.json.gz",
    "h200/h200_llm_decode_eager.json.gz",
    "h200/h200_gpu_metrics_nsys2025.3.sqlite.gz",
]


def _uncached(path: str) -> str:
    """`analyze -f json` converted in memory, with nothing stored or read: what every cached run must equal (the
    golden files pin the same, but other work in flight may change them; test_golden_outputs checks those)."""
    return golden_outputs.run(TRACES, ["analyze", path, "-f", "json", "--no-cache"])[1]


def _forget_analyses(cache: Path) -> None:
    """Remove the stored analyses (analyze/stored_analysis.py), so that the next analysis runs over the stored
    tables instead of reading its result."""
    for folder in cache.glob("*/analyses"):
        shutil.rmtree(folder)


def _derived_folders(cache: Path) -> list[Path]:
    return sorted(p for p in cache.glob("*/derived/*") if not p.name.startswith(".tmp-"))


@pytest.mark.parametrize("path", CASES)
def test_warm_analysis_reads_stored_tables_and_writes_the_uncached_output(path, tmp_path, monkeypatch):
    monkeypatch.setenv("INFERSCOPE_CACHE_DIR", str(tmp_path))
    want = _uncached(path)
    _, cold = golden_outputs.run(TRACES, ["analyze", path, "-f", "json"])
    (folder,) = _derived_folders(tmp_path)
    stored = json.loads((folder / "derived.json").read_text())["tables"]
    assert {"gpu_busy", "gpu_idle_gaps", "gpu_idle_causes", "api_busy_by_thread", "gpu_ops"} <= set(stored)
    from inferscope.analyze import NOT_STORED

    assert not set(NOT_STORED) & set(stored)  # cheaper to compute again: the warm run below does, from the stored
    # mark the stored tables: a warm run that recomputed instead of reading them would not notice the mark
    before = {f.name: f.stat().st_mtime_ns for f in folder.glob("*.parquet")}
    _forget_analyses(tmp_path)
    _, warm = golden_outputs.run(TRACES, ["analyze", path, "-f", "json"])
    assert cold == want
    assert warm == want
    assert _derived_folders(tmp_path) == [folder]
    assert {f.name: f.stat().st_mtime_ns for f in folder.glob("*.parquet")} == before


def test_stored_tables_keep_their_types_and_rows(tmp_path):
    import inferscope
    from inferscope.analyze import MATERIALIZE, prepare

    src = TRACES / "nsys/h100_2gpu_fastvideo.sqlite"
    described = {}
    for run in ("cold", "warm"):
        with inferscope.open(src, cache_dir=tmp_path) as t:
            prepare(t)
            con = t.engine.raw
            described[run] = {
                n: (con.execute(f"DESCRIBE temp.{n}").fetchall(), con.execute(f"SELECT * FROM temp.{n}").fetchall())
                for n in t.engine.created_tables()
                if n in MATERIALIZE
            }
    assert ("cum_before_ns", "HUGEINT") in [(r[0], r[1]) for r in described["warm"]["gpu_busy"][0]]
    assert described["warm"] == described["cold"]


def test_patterns_and_windows_get_tables_of_their_own(tmp_path):
    import inferscope

    src = TRACES / "nsys/h100_2gpu_fastvideo.sqlite"

    def steps(**kw):
        with inferscope.open(src, cache_dir=tmp_path) as t:
            a = t.analyze(**kw)
            return a.steps.num_rows, [(m.id, m.device_id, m.key, m.value) for m in a.metrics]

    default = steps()
    linear = steps(step_patterns=["^aten::linear"])
    windowed = steps(window="155.5s:156s")
    assert len(_derived_folders(tmp_path)) == 3
    assert default[0] == 0 and linear[0] > 0  # this trace has no step markers of the default patterns
    # each again, now read from its own stored tables; the windowed one also as computed without any cache
    _forget_analyses(tmp_path)
    assert steps() == default
    assert steps(step_patterns=["^aten::linear"]) == linear
    assert steps(window="155.5s:156s") == windowed
    with inferscope.open(src, use_cache=False) as t:
        a = t.analyze(window="155.5s:156s")
        assert (a.steps.num_rows, [(m.id, m.device_id, m.key, m.value) for m in a.metrics]) == windowed


def test_a_damaged_stored_table_is_recomputed_and_stored_again(tmp_path, monkeypatch):
    monkeypatch.setenv("INFERSCOPE_CACHE_DIR", str(tmp_path))
    path = "nsys/h100_2gpu_fastvideo.sqlite"
    want = _uncached(path)
    golden_outputs.run(TRACES, ["analyze", path, "-f", "json"])
    (folder,) = _derived_folders(tmp_path)
    (folder / "gpu_busy.parquet").write_bytes(b"PAR1 not a parquet file")
    (folder / "gpu_idle_gaps.parquet").unlink()
    _forget_analyses(tmp_path)
    _, text = golden_outputs.run(TRACES, ["analyze", path, "-f", "json"])
    assert text == want
    (again,) = _derived_folders(tmp_path)
    assert again.name == folder.name and (again / "gpu_idle_gaps.parquet").exists()


def test_an_entry_that_cannot_store_them_still_analyses(tmp_path, monkeypatch):
    # a file where the folder would go: every write fails, as on a read-only or full disk (root ignores modes)
    monkeypatch.setenv("INFERSCOPE_CACHE_DIR", str(tmp_path))
    path = "kineto/v100_rank1_train.json.gz"
    want = _uncached(path)
    golden_outputs.run(TRACES, ["analyze", path, "-f", "json"])
    (entry,) = {f.parent.parent for f in _derived_folders(tmp_path)}
    shutil.rmtree(entry / "derived")
    (entry / "derived").write_text("in the way")
    _forget_analyses(tmp_path)
    _, text = golden_outputs.run(TRACES, ["analyze", path, "-f", "json"])
    assert text == want
    assert (entry / "derived").read_text() == "in the way"


def test_compare_reads_the_tables_an_analyze_stored(tmp_path):
    """compare loads its own views (sql/compare) and the terminal report its own (sql/report); neither is read by
    the derived tables, so neither gives them a key, and a second stored copy, of its own."""
    import inferscope

    src = TRACES / "nsys/h100_2gpu_fastvideo.sqlite"
    with inferscope.open(src, cache_dir=tmp_path) as t:
        metrics = {(m.id, m.device_id, m.key): m.value for m in t.analyze().metrics}
    (stored,) = _derived_folders(tmp_path)
    c = inferscope.compare(src, src, cache_dir=tmp_path)
    assert _derived_folders(tmp_path) == [stored]
    assert c.verdict == "pass"
    intensive = [r for r in c.metrics if r.id.startswith("metric:") and not r.id.endswith(("/step", "/s"))]
    assert intensive, "no analysis metric compared: the test proves nothing"
    for r in intensive:  # the analysis's own metrics, read through the same stored tables
        assert r.base_value == metrics[(r.id[len("metric:") :], r.device_id, r.key or None)], r.id


def test_only_the_views_the_tables_read_are_in_their_key(tmp_path):
    import inferscope
    from inferscope.analyze import MATERIALIZE, _shape
    from inferscope.engine import derived_tables
    from inferscope.resources import sql_dir

    with inferscope.open(TRACES / "nsys/h100_2gpu_fastvideo.sqlite", cache_dir=tmp_path) as t:
        engine = t.engine

        def key():
            return derived_tables.key(engine, _shape(None, None, None), MATERIALIZE)

        before = key()
        read = {f.path.name for f in engine.defining_files(MATERIALIZE)}
        assert {"gpu_ops.sql", "idle_ledger.sql", "step_ranges.sql"} <= read  # stored, and read by them
        assert "hta_kernel_stats.sql" not in read  # a view over them that no stored table reads
        for extra in ("report", "compare"):
            engine.load_sql_dir(sql_dir() / extra)
        unrelated = tmp_path / "unrelated"
        unrelated.mkdir()
        (unrelated / "my_view.sql").write_text("CREATE OR REPLACE VIEW my_view AS SELECT count(*) AS n FROM kernels\n")
        engine.load_sql_dir(unrelated)
        assert key() == before
        edited = tmp_path / "edited"
        edited.mkdir()
        text = (sql_dir() / "views" / "gpu_exposed.sql").read_text()
        (edited / "gpu_exposed.sql").write_text(text + "\n-- an edit\n")
        engine.load_sql_dir(edited)
        assert key() != before
