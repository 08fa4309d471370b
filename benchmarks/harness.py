"""What the nsys benchmarks share: a tiled ~1M-kernel export to measure on, and child processes timed with GNU time
(peak RSS and CPU seconds are only known to the kernel after the child exits)."""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from pathlib import Path

from tile_nsys import tile, to_arrow_streams

REPO = Path(__file__).resolve().parent.parent


def add_tile_args(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--src", type=Path, default=REPO.parent / "shared/traces/nsys/h100_2gpu_fastvideo.sqlite")
    ap.add_argument("--kernels", type=int, default=1_000_000)
    ap.add_argument("--work", type=Path, default=None, help="directory for the tiled file (default: a temp dir)")
    ap.add_argument("--skip-nsys", action="store_true")
    ap.add_argument(
        "--input",
        choices=("sqlite", "arrows"),
        default="sqlite",
        help="what InferScope reads: the tiled SQLite export, or the same tables as an nsys Arrow "
        "export (nsys itself always reads the SQLite file)",
    )


def tiled_export(args: argparse.Namespace) -> tuple[Path, Path]:
    """(work directory, tiled SQLite export), tiling args.src once and reusing the file on later runs."""
    work = args.work or Path(tempfile.mkdtemp(prefix="inferscope-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    tiled = work / f"tiled_{args.kernels}.sqlite"
    if not tiled.exists():
        info = tile(args.src, tiled, args.kernels)
        print(f"tiled {args.src.name} x{info['copies']}: " + ", ".join(f"{k}={v:,}" for k, v in info["rows"].items()))
    print(f"file: {tiled} ({tiled.stat().st_size / 1e6:.0f} MB)")
    return work, tiled


def input_file(args: argparse.Namespace, tiled: Path) -> Path:
    """The file InferScope reads: the tiled SQLite, or (--input arrows) its tables as an nsys Arrow export."""
    if args.input == "sqlite":
        return tiled
    arrows = tiled.with_suffix(".arrows")
    if not arrows.exists():
        n = to_arrow_streams(tiled, arrows)
        print(f"wrote {n} tables as Arrow streams")
    print(f"InferScope reads: {arrows} ({arrows.stat().st_size / 1e6:.0f} MB)")
    return arrows


def compile_checkout(checkout: Path = REPO) -> None:
    """Write the bytecode of `checkout`'s package before timing it, as `pip install` does for users. Where
    PYTHONDONTWRITEBYTECODE is set (this machine kind sets it), Python never writes it, so every timed process
    would compile each module edited since the last .pyc was written, and small-trace timings would include that."""
    import compileall

    compileall.compile_dir(checkout / "inferscope", quiet=1)


def repo_env() -> dict:
    """The environment for `python -m inferscope` from this checkout."""
    return dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))


# GNU time's last stderr line: peak RSS of the largest process (KB), user and system CPU seconds
_GNU_TIME = ["/usr/bin/time", "-f", "%M %U %S"]


def _gnu_time(cmd: list[str], returncode: int, stderr: str) -> tuple[int, float]:
    """(peak RSS MB, CPU seconds) from a child run under _GNU_TIME; a failed child stops the benchmark, as a
    timing of a command that did not finish means nothing."""
    if returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {stderr[-2000:]}")
    rss, user, sys_ = stderr.strip().splitlines()[-1].split()
    return int(rss) // 1024, float(user) + float(sys_)


def timed(cmd: list[str], env=None) -> tuple[float, int, float]:
    """Wall seconds, peak RSS (MB) and CPU seconds (user + system, all threads) of a child process.

    CPU seconds matter because wall time on a shared machine depends on what else runs."""
    t0 = time.perf_counter()
    # run in the checkout: `python -m inferscope` imports the package from the current directory first
    proc = subprocess.run(
        [*_GNU_TIME, *cmd], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO
    )
    wall = time.perf_counter() - t0
    rss_mb, cpu_s = _gnu_time(cmd, proc.returncode, proc.stderr)
    return wall, rss_mb, cpu_s


def timed_tree(cmd: list[str], env=None, interval: float = 0.05) -> dict:
    """Wall seconds, peak RSS (MB) of the whole process tree and CPU seconds of a child and its descendants.

    GNU time's %M is the largest single process, but nsys, nsys-ai and HTA start helpers that are alive at the
    same time, and what a user's machine must hold is their sum; so the tree is polled (a peak shorter than
    `interval` can be missed, hence the larger of the two is kept)."""
    import psutil

    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [*_GNU_TIME, *cmd], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO
    )
    root = psutil.Process(proc.pid)
    peak = 0
    while proc.poll() is None:
        total = 0
        try:
            members = root.children(recursive=True)
        except psutil.Error:
            members = []
        for p in members:
            try:
                total += p.memory_info().rss
            except psutil.Error:
                pass
        peak = max(peak, total)
        time.sleep(interval)
    stderr = proc.stderr.read()
    wall = time.perf_counter() - t0
    rss_mb, cpu_s = _gnu_time(cmd, proc.returncode, stderr)
    return {"wall_s": wall, "rss_mb": max(peak >> 20, rss_mb), "cpu_s": cpu_s}
