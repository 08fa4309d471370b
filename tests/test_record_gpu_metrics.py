"""`inferscope record --gpu-metrics`: the nsys options it builds from the installed nsys's own help, the mistakes
it refuses before writing anything, an end-to-end recording on this GPU-less machine (nsys accepts the request
and samples nothing: the manifest and a warning must say so), and the sample count read back from a real H200
export that does hold metrics."""

from __future__ import annotations

import gzip
import json
import shutil
import sqlite3
import subprocess
import sys

import pytest

from recorders import gpu_metrics
from recorders import nsys as nsys_mod
from tests.conftest import TRACES, needs_nsys, record_until_nsys_cooperates, run_cli

CPU_ONLY = "-t osrt -s none --cpuctxsw=none"
H200_METRICS = TRACES / "h200" / "h200_gpu_metrics_nsys2025.3.sqlite.gz"


@pytest.fixture(scope="module")
def help_text():
    if shutil.which("nsys") is None:
        pytest.skip("the nsys CLI is not installed (.ci/run installs it)")
    proc = subprocess.run(["nsys", "profile", "--help"], capture_output=True, text=True, timeout=120)
    return proc.stdout + proc.stderr


def test_options_follow_the_installed_nsys(help_text):
    """Oracle: the help text. The device option is the spelling this nsys documents (2022.4 here: singular), every
    option passed is one it lists, and the set is passed only when asked for."""
    caps = nsys_mod.Capabilities(help_text)
    spelled = next(o for o in gpu_metrics.DEVICE_OPTIONS if f"{o}=" in help_text)
    args, described = gpu_metrics.profile_args(caps.options, set(), "all", None, None)
    assert args == [f"{spelled}=all", f"--gpu-metrics-frequency={gpu_metrics.DEFAULT_FREQUENCY}"]
    assert described["set"] == "nsys default" and described["frequency_hz"] == gpu_metrics.DEFAULT_FREQUENCY
    for arg in args:
        assert f"{arg.split('=', 1)[0]}=" in help_text
    args, described = gpu_metrics.profile_args(caps.options, set(), " 0,1 ", 20_000, "ga100")
    assert args == [f"{spelled}=0,1", "--gpu-metrics-frequency=20000", "--gpu-metrics-set=ga100"]
    assert described["devices"] == "0,1"


def test_the_newer_spelling_wins_where_nsys_has_it(help_text):
    """Edit of the real help text: the option renamed as nsys 2023.2 and later spell it."""
    renamed = help_text.replace("--gpu-metrics-device=", "--gpu-metrics-devices=")
    caps = nsys_mod.Capabilities(renamed)
    args, _ = gpu_metrics.profile_args(caps.options, set(), "cuda-visible", None, None)
    assert args[0] == "--gpu-metrics-devices=cuda-visible"


@pytest.mark.parametrize(
    ("devices", "frequency", "metric_set", "user", "needle"),
    [
        ("gpu0", None, None, set(), "use all, cuda-visible, or GPU indices"),
        ("0,,1", None, None, set(), "use all, cuda-visible, or GPU indices"),
        ("all", 5, None, set(), "between 10 and 200000 Hz"),
        ("all", 250_000, None, set(), "between 10 and 200000 Hz"),
        ("all", None, None, {"--gpu-metrics-frequency"}, "give it in one place only"),
    ],
)
def test_bad_requests_say_what_to_change(help_text, devices, frequency, metric_set, user, needle):
    caps = nsys_mod.Capabilities(help_text)
    with pytest.raises(gpu_metrics.GpuMetricsError, match=needle):
        gpu_metrics.profile_args(caps.options, user, devices, frequency, metric_set)


def test_an_nsys_without_gpu_metrics_is_refused(help_text):
    """Edit of the real help text: every GPU-metrics option removed, as in nsys releases before 2021.2."""
    kept = "\n".join(line for line in help_text.splitlines() if "--gpu-metrics" not in line)
    caps = nsys_mod.Capabilities(kept)
    with pytest.raises(gpu_metrics.GpuMetricsError, match="does not offer GPU metrics"):
        gpu_metrics.profile_args(caps.options, set(), "all", None, None)


@needs_nsys
@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--gpu-metrics", "all", "--no-nsys"], "--no-nsys"),
        (["--gpu-metrics", "first"], "GPU indices"),
        (["--gpu-metrics", "all", "--gpu-metrics-frequency", "1"], "between 10 and 200000 Hz"),
        (["--gpu-metrics-frequency", "1000"], "need --gpu-metrics"),
        (["--gpu-metrics", "0", "--nsys-args", "--gpu-metrics-device=1"], "one place only"),
    ],
)
def test_cli_mistakes_are_one_line_and_write_nothing(tmp_path, args, needle):
    bundle = tmp_path / "b"
    proc = run_cli("record", "-o", bundle, *args, "--", sys.executable, "-c", "pass", timeout=120)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("inferscope: error:") and needle in lines[0], lines
    assert not bundle.exists()


@needs_nsys
def test_recording_without_a_gpu_says_nothing_was_sampled(tmp_path):
    """nsys takes the request and exits 0 with no GPU to sample: the bundle is complete, the manifest records the
    request and its nsys options, the export's count (checked with sqlite3 here) is zero, and stderr says why."""

    def once(attempt: int):
        bundle = tmp_path / f"b{attempt}"
        return bundle, run_cli(
            "record",
            "-o",
            bundle,
            "--nsys-args",
            CPU_ONLY,
            "--gpu-metrics",
            "all",
            "--gpu-metrics-frequency",
            "2000",
            "--",
            sys.executable,
            "-c",
            "print('working')",
            timeout=300,
        )

    bundle, proc = record_until_nsys_cooperates(once)
    assert proc.returncode == 0, proc.stderr[-3000:]
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    nsys = manifest["nsys"]
    request = nsys["gpu_metrics"]
    assert request["devices"] == "all" and request["frequency_hz"] == 2000
    for arg in request["args"]:
        assert arg in nsys["command"]
    assert nsys["command"].index(request["args"][0]) < nsys["command"].index("--output")
    con = sqlite3.connect(bundle / nsys["export"]["file"])
    tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    rows = con.execute("SELECT count(*) FROM GPU_METRICS").fetchone()[0] if "GPU_METRICS" in tables else 0
    con.close()
    assert rows == 0
    assert request["collected"]["samples"] == 0 and "administrators" in request["collected"]["why"]
    warning = [ln for ln in proc.stderr.splitlines() if "recorded no GPU metrics" in ln]
    assert len(warning) == 1 and warning[0].startswith("inferscope: warning:")


@pytest.mark.skipif(not H200_METRICS.exists(), reason=f"{H200_METRICS} not found (../shared/traces)")
def test_sample_count_of_a_real_export(tmp_path):
    """The recorder's count on the shared H200 export (10 kHz, one GPU), against sqlite3 over the raw file."""
    export = tmp_path / "h200.sqlite"
    with gzip.open(H200_METRICS, "rb") as src, open(export, "wb") as dst:
        shutil.copyfileobj(src, dst)
    con = sqlite3.connect(export)
    rows, metrics, sources = con.execute(
        "SELECT count(*), count(DISTINCT metricId), count(DISTINCT typeId) FROM GPU_METRICS"
    ).fetchone()
    con.close()
    assert rows > 0
    assert gpu_metrics.collected(str(export)) == {"samples": rows, "metrics": metrics, "sources": sources}
    assert gpu_metrics.collected(str(tmp_path / "missing.sqlite"))["samples"] == 0
