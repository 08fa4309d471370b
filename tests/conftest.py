"""Shared test fixtures: the real traces in ../shared/traces, a CLI runner that executes the real command in a
subprocess, and one cache directory per test session (the shared traces are read-only)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# A suite started in the background by a non-interactive shell (`cmd &`, nohup, some CI runners) inherits SIGINT
# set to "ignore", and so would every process the tests start: Ctrl-C tests would see it ignored. The tests are
# about a terminal where Ctrl-C works, so that is what they get: Python's own handler here, the default in
# children (an ignored signal stays ignored across exec; a handled one does not).
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


def _find_shared() -> tuple[Path, str]:
    """Where the shared traces are, and how that was decided (printed in the pytest header).

    INFERSCOPE_SHARED wins; otherwise the first `shared/traces` beside the checkout or beside any folder above it
    (CI clones the repo next to ../shared; a clone one level deeper still finds it)."""
    explicit = os.environ.get("INFERSCOPE_SHARED")
    if explicit:
        return Path(explicit), "INFERSCOPE_SHARED"
    for parent in REPO.parents:
        if (parent / "shared" / "traces").is_dir():
            return parent / "shared", "found above the checkout"
    return REPO.parent / "shared", "not found above the checkout; set INFERSCOPE_SHARED=/path/to/shared"


SHARED, SHARED_HOW = _find_shared()
TRACES = SHARED / "traces"
NSYS_TRACES = TRACES / "nsys"
KINETO_TRACES = TRACES / "kineto"
SAMPLES = REPO / "sample_traces"
ARTIFACTS = REPO / "test_artifacts"

NSYS_SQLITE = sorted(NSYS_TRACES.glob("*.sqlite")) if NSYS_TRACES.exists() else []
NSYS_REPS = sorted(NSYS_TRACES.glob("*.nsys-rep")) if NSYS_TRACES.exists() else []

needs_shared = pytest.mark.skipif(not NSYS_TRACES.exists(), reason=f"shared traces not found at {TRACES}")
needs_nsys = pytest.mark.skipif(
    shutil.which("nsys") is None, reason="the nsys CLI is not installed (.ci/run installs it)"
)


def pytest_report_header(config) -> str:
    state = "present" if (SHARED / "traces").is_dir() else "MISSING: tests that need them skip"
    return f"inferscope shared traces: {SHARED} ({SHARED_HOW}; {state})"


@pytest.fixture(scope="session", autouse=True)
def _private_user_cache(tmp_path_factory):
    """Commands the tests run without --cache-dir use a session folder, not the tester's ~/.cache/inferscope
    (tests of the cache location set their own HOME/XDG_CACHE_HOME and clear this variable)."""
    old = os.environ.get("INFERSCOPE_CACHE_DIR")
    os.environ["INFERSCOPE_CACHE_DIR"] = str(tmp_path_factory.mktemp("user-cache"))
    yield
    if old is None:
        os.environ.pop("INFERSCOPE_CACHE_DIR", None)
    else:
        os.environ["INFERSCOPE_CACHE_DIR"] = old


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("inferscope-cache")


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def run_cli(
    *args: str,
    cwd: Path | None = None,
    env: dict | None = None,
    timeout: int = 600,
    input: str | None = None,
    umask: int | None = None,
) -> subprocess.CompletedProcess:
    """Run `python -m inferscope ARGS` as a user would, with this checkout first on the path (and with `umask`
    set in the child as a shell would, when given)."""
    full_env = dict(os.environ)
    full_env["PYTHONPATH"] = str(REPO) + os.pathsep + full_env.get("PYTHONPATH", "")
    if env:
        full_env.update(env)
    return subprocess.run(
        [sys.executable, "-m", "inferscope", *map(str, args)],
        cwd=cwd or REPO,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        input=input,
        preexec_fn=None if umask is None else (lambda: os.umask(umask)),
    )


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
