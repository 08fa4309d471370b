"""Export a `.nsys-rep` with the local Nsight Systems CLI.

A report can only be exported by an nsys at least as new as the one that captured it, so the messages here say
which version is needed and how to export on the capture machine instead.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from recorders.nsys import find_nsys
from recorders.nsys import version as nsys_version

from ..errors import NsysNotFoundError, NsysVersionError, TraceInputError

INSTALL_HINT = (
    "install Nsight Systems (https://developer.nvidia.com/nsight-systems; Debian: apt-get install nsight-systems "
    "from non-free) or set INFERSCOPE_NSYS=/path/to/nsys, or export on the capture machine with "
    "`nsys export --type sqlite REPORT.nsys-rep` and analyse the .sqlite"
)


def export_types(nsys: str) -> list[str]:
    """Export types this nsys offers, from `nsys export --help` (the option set changed across versions)."""
    help_text = subprocess.run([nsys, "export", "--help"], capture_output=True, text=True, timeout=60).stdout
    m = re.search(r"--type[^\n]*\n(?P<body>(?:.*\n){1,12})", help_text)
    body = m.group("body") if m else help_text
    return [t for t in ("parquetdir", "arrow", "sqlite") if re.search(rf"\b{t}\b", body)]


def export(report: Path, out_dir: Path) -> tuple[str, Path]:
    """Export `report` into `out_dir`; returns (format, path) with format in parquetdir | arrow | sqlite."""
    nsys = find_nsys()
    if nsys is None:
        raise NsysNotFoundError(
            f"{report}: reading a .nsys-rep needs the nsys CLI, which was not found; {INSTALL_HINT}"
        )
    types = export_types(nsys) or ["sqlite"]
    fmt = types[0]
    target = out_dir / {"parquetdir": "export_parquet", "arrow": "export.arrows", "sqlite": "export.sqlite"}[fmt]
    cmd = [nsys, "export", "--type", fmt, "--force-overwrite", "true", "--output", str(target), str(report)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
    text = proc.stdout + proc.stderr
    if "Version number is invalid" in text or "Version not supported" in text or "newer version" in text.lower():
        m = re.search(r"(\d{4})@(\d+)@(\d+)", text)
        needed = ".".join(m.groups()) if m else "a newer release"
        raise NsysVersionError(
            f"{report}: written by nsys {needed}, but the local nsys is {nsys_version(nsys)}; install nsys >= {needed} "
            f"or run `nsys export --type sqlite` where the report was captured and analyse the .sqlite"
        )
    produced = target if target.exists() else None
    if produced is None and fmt == "arrow" and target.with_suffix(".arrows").exists():
        produced = target.with_suffix(".arrows")
    if proc.returncode != 0 or produced is None:
        last = next((ln for ln in reversed(text.strip().splitlines()) if ln.strip()), "no output")
        raise TraceInputError(f"{report}: `nsys export` failed ({last.strip()}); is it a complete .nsys-rep?")
    return fmt, produced
