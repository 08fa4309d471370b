"""Saved baselines (issue 20): one side's samples in a small file that compares as that side's traces would.

Each real pair is compared twice, once from the traces and once from the baseline saved of one side, and every
row (gated ones first of all), the verdict, the summary, the environment and the exit code must agree. The step
change is also checked against the raw files (tests/test_compare_gate.expected_change), so the two ways cannot
agree on a wrong number. Edited baselines (a future version, a cut-short copy, a Parquet file of something else)
are built here and named by the edit; each must fail in one line with exit 2 and leave nothing written.
"""

from __future__ import annotations

import base64
import json
import zlib

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import compare_json, needs_shared, run_cli
from tests.test_compare_gate import KINETO_A100, KINETO_V100, PAGEABLE, PINNED, expected_change, row

pytestmark = needs_shared


def same_comparison(a: dict, b: dict) -> None:
    """Everything a reader or a gate reads agrees; the notes differ only by the one naming the baseline."""
    gated_a = [m for m in a["metrics"] if m["gated"]]
    assert gated_a, "a comparison with no gated row proves nothing"
    assert gated_a == [m for m in b["metrics"] if m["gated"]]
    assert a["metrics"] == b["metrics"]
    for key in ("verdict", "summary", "environment", "hardware_change", "work_changes", "base", "new"):
        assert a[key] == b[key], key
    extra = [n for n in b["notes"] if n not in a["notes"]]
    assert len(extra) == 1 and "read from the baseline" in extra[0]
    assert [n for n in b["notes"] if n != extra[0]] == a["notes"]


@pytest.mark.parametrize(
    "base, new, flags",
    [
        (PAGEABLE, PINNED, ()),  # nsys-free H200 pair: copies 8x faster pinned, steps ~2.3x faster
        (KINETO_A100, KINETO_V100, ("--allow-hardware-change",)),  # the Kineto A/B pair, hardware change declared
        (PAGEABLE, PINNED, ("--window", "50ms:")),  # part of each trace: the baseline keeps the part it covers
    ],
    ids=["h200-pageable->pinned", "kineto-a100->v100", "h200-window"],
)
def test_baseline_compares_as_its_traces(base, new, flags, cache_dir, tmp_path):
    saved_base, saved_new = tmp_path / "base.parquet", tmp_path / "new.parquet"
    code, direct, err = compare_json(
        base, new, *flags, "--save-base", saved_base, "--save-new", saved_new, cache_dir=cache_dir
    )
    assert f"wrote {saved_base}" in err and f"wrote {saved_new}" in err
    if "--window" not in flags:  # the whole traces: the step change is the raw files' own
        assert row(direct, "step_time_ns")["delta_pct"] == pytest.approx(expected_change(base, new), abs=0.1)
    else:
        assert [n for n in direct["notes"] if n.startswith("window: base ")] == [
            f"window: base {base.name}: from 50 ms to the trace end on the trace clock (--window 50ms:)"
        ]
    # the saved base as BASE, and the saved new as NEW: the same comparison
    code_b, from_base, _ = compare_json(saved_base, new, *flags, cache_dir=cache_dir)
    assert code_b == code
    same_comparison(direct, from_base)
    code_n, from_new, _ = compare_json(base, saved_new, *flags, cache_dir=cache_dir)
    assert code_n == code
    same_comparison(direct, from_new)
    # small: a fraction of the (already gzip-compressed) trace it stands for
    assert saved_base.stat().st_size < base.stat().st_size


def test_saved_new_is_the_next_base(cache_dir, tmp_path):
    """The CI loop: the merged build's samples, saved with --save-new, are the base of the next pull request (here
    the reverse direction of the real pair, a regression: exit 1 both ways)."""
    saved = tmp_path / "pinned.parquet"
    code, _, _ = compare_json(PAGEABLE, PINNED, "--save-new", saved, cache_dir=cache_dir)
    assert code == 0
    code_t, direct, _ = compare_json(PINNED, PAGEABLE, cache_dir=cache_dir)
    code_b, from_saved, _ = compare_json(saved, PAGEABLE, cache_dir=cache_dir)
    assert code_t == code_b == 1 and from_saved["verdict"] == "regression"
    same_comparison(direct, from_saved)


def test_hardware_check_travels_in_the_baseline(cache_dir, tmp_path):
    """The GPU model is in the baseline: an A100 baseline against a V100 trace is not comparable, as the traces are."""
    saved = tmp_path / "a100.parquet"
    code, _, _ = compare_json(KINETO_A100, KINETO_A100, "--save-base", saved, cache_dir=cache_dir)
    assert code == 0
    code, report, err = compare_json(saved, KINETO_V100, cache_dir=cache_dir)
    assert code == 2 and report["verdict"] == "not_comparable"
    assert err.strip().splitlines() == [
        "inferscope: not comparable: GPU model NVIDIA A100-PG509-200 -> Tesla V100-SXM2-16GB; pass "
        "--allow-hardware-change if the change is intended"
    ]


def rewrite_header(src, dst, edit) -> None:
    """An edited copy of a baseline: same rows, its header changed by `edit` (the documented layout: JSON under
    inferscope.baseline, the runs zlib-compressed in runs_zlib)."""
    f = pq.ParquetFile(src)
    header = json.loads(f.metadata.metadata[b"inferscope.baseline"])
    edit(header)
    table = f.read().replace_schema_metadata({b"inferscope.baseline": json.dumps(header).encode()})
    pq.write_table(table, dst)


def one_error_line(result) -> str:
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and not result.stdout, (lines, result.stdout[:200])
    return lines[0]


@pytest.fixture(scope="module")
def saved_pageable(tmp_path_factory, cache_dir):
    out = tmp_path_factory.mktemp("baseline") / "pageable.parquet"
    code, _, _ = compare_json(PAGEABLE, PINNED, "--save-base", out, cache_dir=cache_dir)
    assert code == 0 and out.stat().st_size > 0
    return out


def test_header_holds_what_the_docs_say(saved_pageable):
    header = json.loads(pq.ParquetFile(saved_pageable).metadata.metadata[b"inferscope.baseline"])
    assert header["format"] == "inferscope-compare-baseline" and header["baseline_version"] == "1"
    (run,) = json.loads(zlib.decompress(base64.b64decode(header["runs_zlib"])))
    assert run["environment"]["gpu_model"] == "NVIDIA H200"
    assert run["steps"] == 5 and run["path"].endswith(PAGEABLE.name)


def test_unreadable_baselines_fail_in_one_line(saved_pageable, cache_dir, tmp_path):
    future = tmp_path / "pageable__version_9.parquet"
    rewrite_header(saved_pageable, future, lambda h: h.update(baseline_version="9", written_by="9.0"))
    line = one_error_line(run_cli("compare", future, PINNED, "--cache-dir", cache_dir))
    assert line == (
        f"inferscope: error: base: {future}: baseline version 9 (written by inferscope 9.0) is not one this release "
        f"reads (1, 2); upgrade inferscope, or save it again from the traces it came from: inferscope compare "
        f"BASE_TRACES NEW_TRACES --save-base {future}"
    )

    cut = tmp_path / "pageable__cut_in_half.parquet"
    data = saved_pageable.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    line = one_error_line(run_cli("compare", cut, PINNED, "--cache-dir", cache_dir))
    assert line.startswith(f"inferscope: error: base: {cut}: damaged baseline (") and "--save-base" in line

    other = tmp_path / "some_table.parquet"
    pq.write_table(pa.table({"x": [1, 2]}), other)
    line = one_error_line(run_cli("compare", other, PINNED, "--cache-dir", cache_dir))
    assert "a Parquet file but not an InferScope baseline" in line

    # a saved compare result holds verdicts, not samples: refused, pointing to --save-base
    result = tmp_path / "result.json"
    assert run_cli("compare", PINNED, PINNED, "-o", result, "--cache-dir", cache_dir).returncode == 0
    line = one_error_line(run_cli("compare", result, PINNED, "--cache-dir", cache_dir))
    assert f"base: {result} is a saved compare result, not a trace" in line and "--save-base FILE" in line


def test_baseline_refuses_other_settings_and_company(saved_pageable, cache_dir, tmp_path):
    """Samples taken with other settings would compare unlike with like; a baseline is the whole side."""
    line = one_error_line(run_cli("compare", saved_pageable, PINNED, "--strip-templates", "--cache-dir", cache_dir))
    assert "was saved with --strip-templates off, this comparison uses on" in line
    line = one_error_line(run_cli("compare", saved_pageable, PINNED, "--window", "10ms:", "--cache-dir", cache_dir))
    assert "was saved with --window none" in line
    # communication families change the analysis metrics: a baseline saved without them (whose header then has no
    # such key, as before they were a setting) refuses a comparison run where a project configures them
    header = json.loads(pq.ParquetFile(saved_pageable).metadata.metadata[b"inferscope.baseline"])
    assert "comm_patterns" not in header["settings"]
    project = tmp_path / "project"
    project.mkdir()
    (project / "inferscope.toml").write_text('[communication]\nmine = ["my_allreduce"]\n')
    line = one_error_line(run_cli("compare", saved_pageable, PINNED, "--cache-dir", cache_dir, cwd=project))
    assert "was saved with communication families ([communication] configuration) none, this comparison uses " in line
    assert '[["mine", ["my_allreduce"]]]' in line
    serving = tmp_path / "serving_project"
    serving.mkdir()
    (serving / "inferscope.toml").write_text("[serving]\nstep_patterns = ['^my_step (?P<kind>prefill|decode)']\n")
    line = one_error_line(run_cli("compare", saved_pageable, PINNED, "--cache-dir", cache_dir, cwd=serving))
    assert "was saved with serving step patterns ([serving] configuration) none, this comparison uses " in line
    line = one_error_line(
        run_cli("compare", "--base", saved_pageable, PAGEABLE, "--new", PINNED, "--cache-dir", cache_dir)
    )
    assert "a saved baseline stands for the whole side" in line
    # a comparison that fails writes no baseline
    target = tmp_path / "never.parquet"
    one_error_line(run_cli("compare", saved_pageable, PINNED, "--strip-templates", "--save-new", target))
    assert not target.exists()
    line = one_error_line(
        run_cli("compare", PAGEABLE, PINNED, "--save-base", tmp_path / "x.p", "--save-new", tmp_path / "x.p")
    )
    assert "give each side its own file" in line


def test_api_saves_from_an_opened_trace(cache_dir, tmp_path):
    """From Python: a side given as an opened Trace can be saved, and the file compares as that trace."""
    from dataclasses import asdict

    import inferscope

    saved = tmp_path / "pageable.parquet"
    base = inferscope.open(PAGEABLE, cache_dir=cache_dir)
    direct = inferscope.compare(base, PINNED, save_base=saved, cache_dir=cache_dir)
    again = inferscope.compare(saved, PINNED, cache_dir=cache_dir)
    assert direct.verdict == again.verdict == "improvement"
    gated = [asdict(m) for m in direct.metrics if m.gated]
    assert gated and gated == [asdict(m) for m in again.metrics if m.gated]
