"""A recorder killed outright (SIGKILL: the OOM killer, a cancelled CI job) cannot finish its manifest. The
bundle it leaves must still analyse, and say that it is incomplete, on stderr and in the report."""

from __future__ import annotations

import pytest

import json
import os
import signal
import subprocess
import sys
import time

from tests.conftest import REPO, run_cli

# real recordings, signals, mounts or every output format: once in CI, not per Python variant
pytestmark = pytest.mark.heavy

# The workload ends itself after a while: the recorder starts it in a session of its own, so killing the
# recorder's process group does not reach it, and an orphan spinning on after the test would slow everything.
WORKLOAD = (
    "import time\ndeadline = time.monotonic() + 30\n"
    "while time.monotonic() < deadline:\n    sum(i * i for i in range(20000))\n    time.sleep(0.001)\n"
)


def test_bundle_of_a_killed_recorder_analyses_with_an_incomplete_warning(tmp_path):
    bundle = tmp_path / "b"
    script = tmp_path / "busy.py"
    script.write_text(WORKLOAD)
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    rec = subprocess.Popen(
        [sys.executable, "-m", "inferscope", "record", "--no-nsys", "-o", str(bundle), "--", sys.executable,
         str(script)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not any((bundle / "samples").glob("*.jsonl.gz")):  # (an absent folder globs to nothing)
            assert rec.poll() is None, rec.stderr.read().decode()
            assert time.monotonic() < deadline, "the recording never started sampling"
            time.sleep(0.05)
        time.sleep(1.0)  # some samples on disk
        os.killpg(rec.pid, signal.SIGKILL)  # the recorder and its workload, as a cancelled job loses them
        rec.wait(timeout=30)
    finally:
        if rec.poll() is None:
            os.killpg(rec.pid, signal.SIGKILL)
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["status"] == "recording"  # what a killed recorder leaves
    for reg in (bundle / "procs").glob("*.json"):  # the orphaned workload: end it now, by the pid it registered
        try:
            os.kill(int(json.loads(reg.read_text())["pid"]), signal.SIGKILL)
        except (ProcessLookupError, KeyError, ValueError):
            pass

    r = run_cli("analyze", bundle, "-f", "json", "--no-cache")
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    warnings = [ln for ln in r.stderr.splitlines() if ln.startswith("inferscope: warning:")]
    assert any("did not finish" in w and "'recording'" in w for w in warnings), r.stderr
    doc = json.loads(r.stdout)
    assert any(f["rule_id"] == "bundle_incomplete" for f in doc["findings"]), [f["rule_id"] for f in doc["findings"]]
