"""The nsys wrapper against the installed nsys: option discovery from `nsys profile --help`, the command line
with defaults and user overrides, and the PID-exact cleanup of profile agents."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time

import pytest

from recorders import nsys as nsys_mod
from tests.conftest import needs_nsys


@pytest.fixture(scope="module")
def caps():
    return nsys_mod.Capabilities.probe(shutil.which("nsys"))


@needs_nsys
def test_capabilities_match_the_help_text(caps):
    """Oracle: the help text itself. Every trace API the help lists after --trace is found, and every default
    the recorder would pass is an option the help documents (never one it lacks)."""
    help_text = subprocess.run(["nsys", "profile", "--help"], capture_output=True, text=True, timeout=120).stdout
    listed = help_text.split("--trace=", 1)[1].split("Select the API", 1)[0]
    for api in ("cuda", "nvtx", "osrt", "cublas", "cudnn"):
        assert (api in caps.trace_apis) == (f"'{api}'" in listed)
    cmd, described = nsys_mod.profile_command("nsys", caps, "/tmp/x/profile", [], ["python3", "w.py"])
    for arg in described["defaults"]:
        assert arg.split("=", 1)[0] in help_text
    for opt in described["unsupported_defaults"]:
        assert f"{opt.split('=', 1)[0]}=" not in help_text or opt.startswith("--trace=")
    assert cmd[-2:] == ["python3", "w.py"]
    assert cmd[cmd.index("--output") + 1] == "/tmp/x/profile"


@needs_nsys
def test_user_arguments_replace_defaults(caps):
    cmd, described = nsys_mod.profile_command(
        "nsys", caps, "/tmp/x/profile", ["-t", "osrt", "--cuda-graph-trace=graph"], ["app"]
    )
    assert not any(a.startswith("--trace=") for a in cmd)
    assert "--cuda-graph-trace=node" not in cmd and "--cuda-graph-trace=graph" in cmd
    assert described["user_args"] == ["-t", "osrt", "--cuda-graph-trace=graph"]


def test_arguments_the_recorder_must_own_are_refused():
    assert "--output" in nsys_mod.check_user_args(["-o", "x"])
    assert "--output" in nsys_mod.check_user_args(["--output=x"])
    assert "--export" in nsys_mod.check_user_args(["--export=sqlite"])
    assert nsys_mod.check_user_args(["-t", "osrt", "-s", "cpu"]) is None


def test_cleanup_ends_only_the_agents_of_its_own_session():
    """Two stand-in processes whose command lines look like nsys agents of sessions 987654 and 87654: cleanup of
    session 87654 must signal exactly its own (a suffix match on the PID would take both)."""
    fake = [sys.executable, "-c", "import time; time.sleep(60)", "--start-agent"]
    mine = subprocess.Popen(fake + ["--session-name=profile-python3-87654"])
    other = subprocess.Popen(fake + ["--session-name=profile-python3-987654"])
    try:
        deadline = time.monotonic() + 10
        # both must have exec'd (until then /proc shows the parent's command line)
        while (nsys_mod.session_agents(87654), nsys_mod.session_agents(987654)) != (
            [mine.pid],
            [other.pid],
        ) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert nsys_mod.session_agents(87654) == [mine.pid]
        assert nsys_mod.session_agents(987654) == [other.pid]
        assert nsys_mod.cleanup(87654, grace_s=0.5) == [mine.pid]
        assert mine.wait(10) is not None
        assert other.poll() is None
    finally:
        for p in (mine, other):
            if p.poll() is None:
                p.kill()
                p.wait(10)


def test_find_nsys_honours_inferscope_nsys(monkeypatch, tmp_path):
    monkeypatch.setenv("INFERSCOPE_NSYS", str(tmp_path / "nope"))
    assert nsys_mod.find_nsys() is None
    exe = tmp_path / "nsys"
    exe.write_text("#!/bin/sh\necho 'NVIDIA Nsight Systems version 2099.1.2.3-abc'\n")
    exe.chmod(0o755)
    monkeypatch.setenv("INFERSCOPE_NSYS", str(exe))
    assert nsys_mod.find_nsys() == str(exe)
    assert nsys_mod.version(str(exe)) == "2099.1.2.3"


@needs_nsys
def test_defaults_switch_perf_based_collection_off(caps):
    """With no --nsys-args the installed nsys gets CPU sampling and context-switch tracing off (nsys 2022.4 hangs
    after the workload with them in most runs here) and no --python-sampling (our sampler records Python)."""
    cmd, described = nsys_mod.profile_command("nsys", caps, "/tmp/x/profile", [], ["app"])
    assert "--sample=none" in cmd and "--cpuctxsw=none" in cmd
    assert {"--sample=none", "--cpuctxsw=none"} <= set(described["defaults"])
    assert not any(a.startswith("--python-sampling") for a in cmd)
    # the user's own choice wins, in either spelling
    for user in (["-s", "cpu"], ["--sample=cpu"]):
        cmd, _ = nsys_mod.profile_command("nsys", caps, "/tmp/x/profile", user, ["app"])
        assert "--sample=none" not in cmd and "--cpuctxsw=none" not in cmd
