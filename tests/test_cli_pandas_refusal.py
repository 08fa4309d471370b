"""The console command runs without importing pandas (cli/_pandas_refusal.py), and gives the same output as when
pandas is imported.

Each run is a separate `python` process, since the refusal belongs to the console command's process: the child
prints, at exit, whether pandas got imported."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import REPO, SAMPLES, TRACES

pytest.importorskip("pandas")  # the comparison run imports it first

# `python -m inferscope ARGS`, with pandas imported first where PRE says so; says at exit whether pandas was imported
_CHILD = """
import atexit, os, sys
if os.environ["PRE"] == "1":
    import pandas
atexit.register(lambda: print(f"pandas imported: {'pandas' in sys.modules}", file=sys.stderr))
sys.argv = ["inferscope", *sys.argv[1:]]
from inferscope.cli import main
main()
"""

KINETO_EAGER = TRACES / "h200" / "h200_llm_decode_eager.json.gz"
FASTVIDEO = SAMPLES / "h100_2gpu_fastvideo.sqlite"


def _run(args: list, tmp_path, *, pandas_first: bool) -> tuple[str, str]:
    env = dict(os.environ, PRE="1" if pandas_first else "0")
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env["INFERSCOPE_CACHE_DIR"] = str(tmp_path / ("cache-pandas" if pandas_first else "cache"))
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, *map(str, args)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout, proc.stderr


@pytest.mark.parametrize("trace", [FASTVIDEO, KINETO_EAGER], ids=["nsys-sqlite", "kineto"])
def test_cold_analyze_imports_no_pandas_and_gives_the_same_document(trace, tmp_path):
    if not trace.exists():
        pytest.skip(f"{trace} is not here (../shared is not beside the checkout)")
    out, err = _run(["analyze", trace, "-f", "json"], tmp_path, pandas_first=False)
    assert "pandas imported: False" in err
    out_pd, err_pd = _run(["analyze", trace, "-f", "json"], tmp_path, pandas_first=True)
    assert "pandas imported: True" in err_pd
    assert json.loads(out) == json.loads(out_pd)
    # and from the stored analysis (warm), which reads Arrow back
    warm, err = _run(["analyze", trace, "-f", "json"], tmp_path, pandas_first=False)
    assert "pandas imported: False" in err
    assert json.loads(warm) == json.loads(out)


def test_html_report_and_compare_run_without_pandas(tmp_path):
    report = tmp_path / "report.html"
    _, err = _run(["analyze", FASTVIDEO, "-o", report], tmp_path, pandas_first=False)
    assert "pandas imported: False" in err
    assert report.read_text().lstrip().lower().startswith("<!doctype html")
    out, err = _run(["compare", FASTVIDEO, FASTVIDEO, "-f", "json"], tmp_path, pandas_first=False)
    assert "pandas imported: False" in err
    out_pd, _ = _run(["compare", FASTVIDEO, FASTVIDEO, "-f", "json"], tmp_path, pandas_first=True)
    assert json.loads(out)["verdict"] == "pass"
    assert json.loads(out) == json.loads(out_pd)


def test_the_library_keeps_pandas(tmp_path):
    """Importing InferScope, or running its CLI in-process (run_app), installs no refusal: `.df()` works."""
    code = (
        "import sys, inferscope\n"
        "from inferscope.cli import run_app\n"
        f"assert run_app(['analyze', {str(FASTVIDEO)!r}, '-f', 'json', '-o', 'a.json']) == 0\n"
        f"t = inferscope.open({str(FASTVIDEO)!r})\n"
        "df = t.stats('cuda_gpu_kern_sum').df()\n"
        "print(type(df).__module__.split('.')[0], len(df) > 0)\n"
    )
    env = dict(os.environ, INFERSCOPE_CACHE_DIR=str(tmp_path / "cache"))
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.split() == ["pandas", "True"]
