"""Shared test fixtures: the real traces in ../shared/traces, a CLI runner that executes the real command in a
subprocess, and one cache directory per test session (the shared traces are read-only)."""

from __future__ import annotations

import json
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


# Test files that run `nsys profile`. .ci/run's variants spread the suite over two pytest-xdist workers
# (`--dist loadgroup`), one file at a time so that module fixtures are built once; two nsys 2022.4 profiles at
# once on two cores make its end-of-run hang likelier, so these files also share one worker and record one at a
# time, as in a serial run.
NSYS_PROFILING_FILES = {
    "test_annotate.py",
    "test_cli_usage.py",
    "test_record_cli.py",
    "test_record_gpu_metrics.py",
    "test_record_nsys.py",
    "test_record_outcomes.py",
    "test_killed_recorder.py",
    "test_secrets.py",
}


def pytest_collection_modifyitems(config, items) -> None:
    for item in items:
        group = "nsys-profile" if item.path.name in NSYS_PROFILING_FILES else str(item.path)
        item.add_marker(pytest.mark.xdist_group(group))


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


# What nsys 2022.4 prints when its own agent connection drops mid-profile (both seen on a loaded CI machine, the
# second as nsys's only output before it exited 1: the recorder then reports the trace lost, correctly). Such a run says nothing about InferScope; the tests that record
# with nsys run again, and skip (saying so) only when every attempt failed for nsys's own reasons.
NSYS_TRANSIENT_MESSAGES = ("Connection reset by peer", "End of file")
NSYS_ATTEMPTS = 3


def nsys_flake(bundle: Path, proc: subprocess.CompletedProcess | None = None, stderr: str | None = None) -> str | None:
    """Why this recording failed for nsys's own reasons (a stall the recorder's watch ended, or a dropped agent
    connection), or None when it did not."""
    try:
        manifest = json.loads((Path(bundle) / "manifest.json").read_text())
    except (OSError, ValueError):
        manifest = {}
    if (manifest.get("nsys") or {}).get("stalled"):
        return "nsys stalled after the workload exited (the recorder ended it)"
    text = stderr if stderr is not None else (proc.stderr if proc is not None else "") or ""
    for message in NSYS_TRANSIENT_MESSAGES:
        if message in text:
            return f"nsys lost its agent connection ({message!r})"
    return None


def record_until_nsys_cooperates(attempt_once, attempts: int = NSYS_ATTEMPTS):
    """Call `attempt_once(n)` -> (bundle, proc, ...) until nsys does not flake; skip, with each reason, when it
    flaked every time. The caller asserts on the returned attempt as on any other."""
    reasons = []
    for n in range(1, attempts + 1):
        result = attempt_once(n)
        bundle, proc = result[0], result[1]
        why = nsys_flake(
            bundle,
            proc if isinstance(proc, subprocess.CompletedProcess) else None,
            proc if isinstance(proc, str) else None,
        )
        if why is None:
            return result
        print(f"attempt {n}: {why}")
        reasons.append(why)
    pytest.skip(f"nsys failed for its own reasons in all {attempts} attempts: {'; '.join(reasons)}")


def compare_json(*args, cache_dir, cwd: Path | None = None) -> tuple[int, dict, str]:
    """`inferscope compare ARGS --format json` (run in `cwd`, default the repository): (exit code, report,
    stderr); every report it prints must satisfy the published schema."""
    import jsonschema

    schema = json.loads((REPO / "inferscope" / "schemas" / "compare-v2.schema.json").read_text())
    r = run_cli("compare", *args, "--format", "json", "--cache-dir", cache_dir, cwd=cwd)
    assert "Traceback" not in r.stderr, r.stderr
    report = json.loads(r.stdout) if r.stdout.strip() else {}
    if report:
        jsonschema.validate(report, schema)
    return r.returncode, report, r.stderr


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
