"""A full disk is the user's to fix, not a bug: one line saying what could not be written and what to do, exit 2,
and nothing half-written left behind. The disk is a real 16 KiB tmpfs mounted for the test."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.conftest import SAMPLES, run_cli

# real recordings, signals, mounts or every output format: once in CI, not per Python variant
pytestmark = pytest.mark.heavy

SAMPLE = SAMPLES / "h100_2gpu_fastvideo.sqlite"


@pytest.fixture
def full_disk(tmp_path):
    """A mounted 16 KiB filesystem: too small for any cache entry or report."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root (CI runs as root)")
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(mnt)], capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True)


def _one_error_line(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("inferscope: error:") and "Traceback" not in proc.stderr
    assert "No space left on device" in lines[0]
    return lines[0]


def test_cache_on_a_full_disk(full_disk):
    cache = full_disk / "cache"
    line = _one_error_line(run_cli("stats", SAMPLE, "--cache-dir", cache, "-f", "csv"))
    assert "--cache-dir" in line or "--no-cache" in line  # what to do
    leftovers = [p for p in cache.rglob("*") if p.is_file()] if cache.exists() else []
    assert not any(p.suffix == ".parquet" for p in leftovers), leftovers  # no partial entry to be served later


@pytest.mark.parametrize(
    "command", [["analyze", "-o", "r.html"], ["analyze", "-o", "r.json"], ["export-perfetto", "-o", "t.json"]]
)
def test_output_on_a_full_disk(full_disk, tmp_path, command):
    name, flag, filename = command
    out = full_disk / filename
    line = _one_error_line(run_cli(name, SAMPLE, flag, out, "--cache-dir", tmp_path / "cache"))
    assert str(out) in line
    assert list(full_disk.iterdir()) == []  # neither the report nor its temporary file
