"""Saved compare results (`inferscope compare -f json -o result.json`): read them back, whatever release wrote them.

Compatibility policy (docs/ci.md): `schema_version` names the JSON form. Adding a field keeps the version;
removing or renaming one, or changing what a verdict means, bumps it. This release reads every version in
READABLE: a version-1 result (every row gated, no roles, no environment) is returned with the version-2 fields
filled in as "not recorded" (role "primary" for rows that were gated, since they were what gated then).
Anything else fails with one line that says how to regenerate the result.

A saved result holds verdicts and summaries, not the samples they came from, so it cannot stand in for a trace
as the base of a new comparison: `inferscope compare` says so in one line instead of failing to parse it as a
trace, and points to the saved baseline (`baseline`), which holds the samples.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from ..errors import CompareError
from .result import SCHEMA_VERSION

READABLE = ("1", "2")
_REGENERATE = "regenerate it with `inferscope compare BASE NEW -f json -o {path}` from the traces it compared"


def is_saved_result(path: Path) -> bool:
    """True for a file that opens as a saved compare result: its JSON begins with schema_version, as `to_json`
    writes it (a Kineto trace spells its own key schemaVersion)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(256).lstrip()
    except OSError:
        return False
    return re.match(rb'\{\s*"schema_version"\s*:', head) is not None


def load(path: str | Path) -> dict:
    """A saved compare result as a version-2 dict (see the module docstring). Raises CompareError in one line."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CompareError(f"{path}: not a saved compare result ({exc.__class__.__name__})") from None
    version = str(doc.get("schema_version")) if isinstance(doc, dict) else None
    if version not in READABLE:
        raise CompareError(
            f"{path}: compare result schema version {version} is not one this release reads "
            f"({', '.join(READABLE)}); " + _REGENERATE.format(path=path)
        )
    if version == "1":
        doc = _upgrade_v1(doc)
    return doc


def _upgrade_v1(doc: dict) -> dict:
    doc = dict(doc)
    doc.setdefault("environment", [])
    doc.setdefault("hardware_change", None)
    doc.setdefault("hardware_change_allowed", False)
    doc.setdefault("work_changes", [])
    doc.setdefault("work_changed", False)
    doc.setdefault("comparable", True)
    doc.setdefault("summary", doc.get("headline", ""))
    doc["metrics"] = [
        {"role": "primary" if m.get("gated") else "explanation", "explains_pct": None, "per_step_delta": None, **m}
        for m in doc.get("metrics", [])
    ]
    doc["upgraded_from"] = "1"
    doc["schema_version"] = SCHEMA_VERSION
    return doc


def refuse_as_trace(path: Path, role: str) -> None:
    """One clear line when a saved result is given where a trace is expected."""
    if is_saved_result(path):
        raise CompareError(
            f"{role}: {path} is a saved compare result, not a trace; a result holds verdicts, not the samples they "
            "came from: compare the traces themselves, or save a baseline of them once (inferscope compare BASE NEW "
            "--save-base FILE) and give that FILE"
        )
