"""Ctrl-C, SIGTERM and bugs reach the user as one line and an exit code CI cannot misread (issue 17, item 3).

Before, Ctrl-C during `analyze` printed DuckDB's "RuntimeError: Query interrupted" traceback and exited 1, the
code `compare` uses for "regression". The signals here are real, sent to a real `inferscope analyze` of the
largest shared nsys export (11 MB compressed, seconds of conversion and analysis) at two moments: while it is
converted (a cache entry is being written) and once the converted tables exist (the analysis queries run).
The internal error is a real one: a cache entry whose Parquet file was overwritten, which DuckDB refuses.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, SAMPLES, TRACES, run_cli

BIG = TRACES / "h200" / "h200_nsys_llm_serving_nsys2025.3.sqlite.gz"
pytestmark = [
    pytest.mark.heavy,  # real recordings, signals, mounts or every output format: once in CI, not per Python variant
    pytest.mark.skipif(not BIG.exists(), reason=f"shared trace {BIG} not found"),
    pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals"),
]


def _analyze(tmp_path: Path, cache: Path) -> tuple[subprocess.Popen, Path]:
    out = tmp_path / "analysis.json"
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen(
        [sys.executable, "-m", "inferscope", "analyze", str(BIG), "-o", str(out), "--cache-dir", str(cache)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    return proc, out


def _wait_for(proc: subprocess.Popen, ready, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        assert proc.poll() is None, "finished before the signal could be sent: " + proc.communicate()[1]
        assert time.monotonic() < deadline, "never reached the moment to signal"
        time.sleep(0.02)


def _converting(cache: Path):
    """True once the temporary entry holds its first Parquet table: conversion is under way (signal handlers are
    long installed; the entry is not yet renamed into place)."""

    def ready() -> bool:
        try:
            return any(
                f.suffix == ".parquet"
                for d in cache.iterdir()
                if d.is_dir() and d.name.startswith(".")
                for f in d.iterdir()
            )
        except OSError:  # the cache or the temporary entry does not exist yet, or was just renamed
            return False

    return ready


def _converted(cache: Path):
    return lambda: cache.is_dir() and any(p.is_dir() and not p.name.startswith(".") for p in cache.iterdir())


@pytest.mark.parametrize(
    "moment, sig, code, line",
    [
        ("converting", signal.SIGINT, 130, "inferscope: interrupted"),
        ("analyzing", signal.SIGINT, 130, "inferscope: interrupted"),
        ("converting", signal.SIGTERM, 143, "inferscope: terminated"),
        ("analyzing", signal.SIGTERM, 143, "inferscope: terminated"),
    ],
)
def test_signal_mid_run_is_one_line_and_no_output(tmp_path, moment, sig, code, line):
    cache = tmp_path / "cache"
    proc, out = _analyze(tmp_path, cache)
    _wait_for(proc, _converting(cache) if moment == "converting" else _converted(cache))
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == code, stderr
    assert stderr == line + "\n"  # no traceback, no wrapped "Query interrupted" error before it
    assert stdout == ""
    assert not out.exists() and not list(tmp_path.glob(".analysis.json*"))  # no report, whole or partial


def test_unexpected_exception_is_one_line_with_a_saved_traceback(tmp_path):
    """A damaged installation (a report template edited into invalid Jinja, as a bad merge or a half-applied
    upgrade leaves it) is InferScope's fault, not the user's: one line, the internal-error code, and the full
    traceback saved for the bug report. The package is copied so the checkout stays intact."""
    inst = tmp_path / "inst"
    for part in ("inferscope", "sql", "templates", "recorders"):
        shutil.copytree(REPO / part, inst / part, ignore=shutil.ignore_patterns("__pycache__"))
    with (inst / "templates" / "report.html.j2").open("a", encoding="utf-8") as f:
        f.write("{% if %}\n")
    crashes = tmp_path / "tmp"
    crashes.mkdir()
    out = tmp_path / "r.html"
    trace = SAMPLES / "h100_2gpu_fastvideo.sqlite"
    r = run_cli(
        "analyze",
        trace,
        "-o",
        out,
        "--cache-dir",
        tmp_path / "cache",
        env={"TMPDIR": str(crashes), "PYTHONPATH": str(inst)},
        cwd=tmp_path,  # `python -m` puts the working directory first: not the checkout
    )
    assert r.returncode == 70, r.stderr
    assert r.stdout == "" and not out.exists()
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    m = re.fullmatch(
        r"inferscope: internal error: (\w+): (.+); the full traceback is in (\S+); please report it\n", r.stderr
    )
    assert m, r.stderr
    saved = Path(m.group(3))
    assert saved.parent == crashes and saved.name.startswith("inferscope-traceback-")
    text = saved.read_text(encoding="utf-8")
    assert "Traceback (most recent call last)" in text and m.group(1) in text.splitlines()[-1]
    assert "report.html.j2" in text and "inferscope analyze" in text  # what failed, and the command that hit it
    assert saved.stat().st_mode & 0o077 == 0  # it names local paths: the user's alone
