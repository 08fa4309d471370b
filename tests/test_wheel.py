"""The installed wheel carries recorders/, sql/ and templates/ and works from any directory."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

from .conftest import REPO, SAMPLES

pytestmark = pytest.mark.heavy  # builds a wheel and a venv: once in CI, not per Python variant


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(REPO)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if proc.returncode != 0 and "Could not find a version that satisfies the requirement hatchling" in proc.stderr:
        pytest.skip("hatchling (the build backend) cannot be downloaded here")
    assert proc.returncode == 0, proc.stderr
    (whl,) = out.glob("inferscope-*.whl")
    return whl


def test_wheel_contents(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in (
        "recorders/__init__.py",
        "inferscope/_data/sql/stats/cuda_api_sum.sql",
        "inferscope/_data/sql/ingest/nsys/kernels.sql",
        "inferscope/cli/__init__.py",
    ):
        assert required in names, required
    for folder in ("sql", "templates"):
        files = {
            p.relative_to(REPO / folder).as_posix()
            for p in (REPO / folder).rglob("*")
            if p.is_file() and "__pycache__" not in p.parts
        }
        packed = {
            n.removeprefix(f"inferscope/_data/{folder}/") for n in names if n.startswith(f"inferscope/_data/{folder}/")
        }
        assert packed >= files, files - packed
    recorder_files = {p.relative_to(REPO).as_posix() for p in (REPO / "recorders").rglob("*.py")}
    assert names >= recorder_files


def test_installed_wheel_runs_from_any_directory(wheel, tmp_path):
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    py = env_dir / "bin" / "python"
    # The wheel's dependencies come from the environment running the tests (a fresh venv, the CI interpreter):
    # a .pth line appends its site-packages after the new venv's own, so the installed wheel is found first and
    # the checkout's editable install (a .pth of that environment, not processed from an appended path) is not.
    site = subprocess.run(
        [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (Path(site) / "_test_deps.pth").write_text("\n".join(sorted(ours)) + "\n")
    subprocess.run(
        [str(py), "-m", "pip", "install", "-q", "--no-deps", "--force-reinstall", str(wheel)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    sample = SAMPLES / "h100_2gpu_fastvideo.sqlite"
    proc = subprocess.run(
        [
            str(env_dir / "bin" / "inferscope"),
            "stats",
            str(sample),
            "-r",
            "cuda_gpu_kern_sum",
            "-f",
            "csv",
            "--cache-dir",
            str(tmp_path / "cache"),
        ],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        timeout=600,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0].startswith("Time (%),Total Time (ns),Instances")
    where = subprocess.run(
        [str(py), "-c", "import inferscope.resources as r; print(r.sql_dir())"],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin"},
    ).stdout.strip()
    assert "site-packages" in where and str(REPO) not in where
