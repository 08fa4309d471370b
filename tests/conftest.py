"""Shared test fixtures: the real traces in ../shared/traces, a CLI runner that executes the real command in a
subprocess, and one cache directory per test session (the shared traces are read-only)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("INFERSCOPE_SHARED", REPO.parent / "shared"))
TRACES = SHARED / "traces"
NSYS_TRACES = TRACES / "nsys"
KINETO_TRACES = TRACES / "kineto"
SAMPLES = REPO / "sample_traces"
ARTIFACTS = REPO / "test_artifacts"

NSYS_SQLITE = sorted(NSYS_TRACES.glob("*.sqlite")) if NSYS_TRACES.exists() else []
NSYS_REPS = sorted(NSYS_TRACES.glob("*.nsys-rep")) if NSYS_TRACES.exists() else []

needs_shared = pytest.mark.skipif(not NSYS_TRACES.exists(), reason=f"shared traces not found at {TRACES}")
needs_nsys = pytest.mark.skipif(shutil.which("nsys") is None, reason="the nsys CLI is not installed (.ci/run installs it)")


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("inferscope-cache")


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None, timeout: int = 600,
            input: str | None = None) -> subprocess.CompletedProcess:
    """Run `python -m inferscope ARGS` as a user would, with this checkout first on the path."""
    full_env = dict(os.environ)
    full_env["PYTHONPATH"] = str(REPO) + os.pathsep + full_env.get("PYTHONPATH", "")
    if env:
        full_env.update(env)
    return subprocess.run([sys.executable, "-m", "inferscope", *map(str, args)], cwd=cwd or REPO, env=full_env,
                          capture_output=True, text=True, timeout=timeout, input=input)


@pytest.fixture(scope="session")
def open_trace(cache_dir):
    """inferscope.open with the session cache; each trace is converted once per session."""
    import inferscope

    opened = {}

    def _open(path):
        key = str(path)
        if key not in opened:
            opened[key] = inferscope.open(path, cache_dir=cache_dir)
        return opened[key]

    return _open
