"""The SQLite export a bundle carries beside its .nsys-rep: made by the nsys that recorded, so that a laptop with an
older nsys (which refuses newer reports) or none can analyse the bundle, and scrubbed of the secrets nsys stored
in it."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Callable

from .redact import scrub_nsys_sqlite


def export_sqlite(nsys: str, report: Path, target: Path, keep_secrets: bool, say: Callable[[str], None]) -> dict:
    """`nsys export --type sqlite` with the recording nsys, so the bundle does not need a matching nsys to be read.

    A failed export leaves the bundle complete (the .nsys-rep is the record; an nsys as new as the recording one
    can export it later), so the outcome is described, not raised. Ctrl-C skips it for the same reason.
    """
    started = time.monotonic()
    cmd = [nsys, "export", "--type", "sqlite", "--force-overwrite", "true", "--output", str(target), str(report)]
    say(
        "inferscope: exporting the report to SQLite for analysis without nsys (Ctrl-C skips this; the "
        ".nsys-rep is kept)",
    )
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=float(os.environ.get("INFERSCOPE_EXPORT_TIMEOUT_S") or 3600)
        )
    except KeyboardInterrupt:
        target.unlink(missing_ok=True)
        return {"file": None, "type": "sqlite", "error": "skipped with Ctrl-C"}
    except (OSError, subprocess.SubprocessError) as exc:
        target.unlink(missing_ok=True)
        return {"file": None, "type": "sqlite", "error": str(exc)}
    seconds = round(time.monotonic() - started, 3)
    if proc.returncode != 0 or not target.exists() or target.stat().st_size == 0:
        target.unlink(missing_ok=True)
        text = (proc.stdout + proc.stderr).strip().splitlines()
        last = next((ln.strip() for ln in reversed(text) if ln.strip()), "no output")
        say(
            f"inferscope: warning: `nsys export --type sqlite` failed (exit code {proc.returncode}: {last}); "
            "the bundle keeps the .nsys-rep, which needs an nsys at least as new as this one to analyse",
        )
        return {"file": None, "type": "sqlite", "error": f"exit code {proc.returncode}: {last}", "seconds": seconds}
    done = {"file": target.name, "type": "sqlite", "seconds": seconds}
    if not keep_secrets:
        done.update(_scrub_export(target, say))
        if not done["file"]:
            return {**done, "type": "sqlite"}
    return {**done, "bytes": target.stat().st_size}


def _scrub_export(target: Path, say: Callable[[str], None]) -> dict:
    """Redact the environment and command line nsys stored in the export (recorders/redact.py); an export that
    cannot be scrubbed is deleted rather than kept with secrets in it (the .nsys-rep remains)."""
    try:
        return {"scrubbed_values": scrub_nsys_sqlite(str(target))}
    except sqlite3.Error as exc:
        target.unlink(missing_ok=True)
        say(f"inferscope: warning: could not redact secrets in {target.name} ({exc}); it was removed")
        return {"file": None, "error": f"redacting secrets failed ({exc}); the export was removed"}


def nsys_rep_secrets(report: Path, export: dict, drop: bool, say: Callable[[str], None]) -> str:
    """What the bundle's .nsys-rep holds of secrets, after --drop-nsys-rep removed it where it may.

    nsys writes the workload's environment and command line into the report and no nsys option stops that short of
    not passing the environment to the workload at all, and the report format cannot be edited: so the report
    keeps them, unless it is dropped (only once a scrubbed export exists, the report being otherwise the only
    record of the GPU timeline)."""
    if not drop:
        return "holds the environment and command line unredacted (nsys records them); see docs/secrets.md"
    if export.get("file"):
        report.unlink(missing_ok=True)
        return "dropped (--drop-nsys-rep); profile.sqlite is the scrubbed record"
    say("inferscope: warning: --drop-nsys-rep ignored: without a SQLite export the .nsys-rep is the only record")
    return "kept despite --drop-nsys-rep (no SQLite export); holds the environment and command line unredacted"
