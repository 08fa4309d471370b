"""Analyses stored with the cached model, so that analysing the same trace the same way twice computes it once.

Why: with the derived timeline stored (engine/derived_tables.py), a warm `analyze` of a 1M-kernel trace still spent
6 – 10 s loading those tables and running the 14 metric files and 28 rules over them, and a small trace 1 – 1.5 s,
all to rebuild an `Analysis` that the previous run had already built from the same inputs. That result is a pure
function of

- the derived tables' key (the cached model, view SQL, patterns, window, DuckDB variables and version);
- the rules that ran: each one's file, header and SQL, the errors of the files that did not load, and the
  parameter values after the configuration and `--param` were applied;
- the metric files, the serving patterns, and the code that turns rows into findings and the headline (every
  Python and SQL file of the installed package is hashed, so an upgrade or an edit is never served a stale
  result), pyarrow's version included.

All of it is hashed into the key of an `analyses/KEY/` folder in the entry. What describes the run rather than the
trace (its path, the evidence rows kept in JSON, the data-quality counts of the entry) is set afresh on each read.
A trace with attached rows (a request file) is not stored: the derived key is None for it.

The folder holds `analysis.json` (JSON with exact floats, NaN included) and one Arrow IPC file per table (steps,
devices, each finding's evidence), so the rebuilt Analysis has the same values and the same Arrow types as the
computed one. A folder is written under a temporary name and renamed into place; an unreadable one is removed
and recomputed; a failure to store only costs the next run the time saved.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import tempfile
import time
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Mapping, Sequence

from ..engine.derived_tables import evict
from .result import Analysis, Finding, Metric, RuleRun

if TYPE_CHECKING:
    from .rule_files import Rule

FOLDER = "analyses"
FORMAT = "1"
MAX_VARIANTS = 8  # per entry, as for the derived tables: the least recently written go first
_DOC = "analysis.json"


@lru_cache(maxsize=1)
def _code_digest() -> str:
    """Every .py and .sql file of the package as installed (about 1.3 MB, a few milliseconds)."""
    from ..resources import sql_dir

    pkg = Path(__file__).resolve().parent.parent
    h = hashlib.sha256()
    for root, pattern in ((pkg, "*.py"), (sql_dir(), "*.sql")):
        for path in sorted(root.rglob(pattern)):
            h.update(str(path.relative_to(root)).encode())
            h.update(path.read_bytes())
    return h.hexdigest()


def key(
    derived_key: str | None,
    rules: "Sequence[Rule]",
    errors: Sequence[str],
    values: Mapping[str, dict],
    serving_patterns: Sequence[str] | None,
) -> str | None:
    """The folder name for an analysis of these inputs; None when it must not be stored."""
    if derived_key is None:
        return None
    import pyarrow

    doc = {
        "format": FORMAT,
        "derived": derived_key,
        "code": _code_digest(),
        "pyarrow": pyarrow.__version__,
        "rules": [
            [
                r.id,
                str(r.path),
                r.builtin,
                r.title,
                r.severity,
                r.group_by,
                r.summary,
                r.recommendation,
                r.why,
                r.steady_state,
                r.sql,
                values.get(r.id),
            ]
            for r in rules
        ],
        "errors": list(errors),
        "serving_patterns": [serving_patterns] if isinstance(serving_patterns, str) else list(serving_patterns or ()),
    }
    try:
        text = json.dumps(doc, sort_keys=True)
    except (TypeError, ValueError):  # a parameter value JSON cannot spell: do not store what cannot be keyed
        return None
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def load(entry: Path | None, k: str | None) -> Analysis | None:
    """The stored analysis of folder `k`, or None (nothing stored, or a damaged folder, which is removed)."""
    if entry is None or k is None:
        return None
    folder = entry / FOLDER / k
    doc_path = folder / _DOC
    if not doc_path.is_file():
        return None
    try:
        doc = json.loads(doc_path.read_text(encoding="utf-8"))
        if doc.get("format") != FORMAT:
            raise ValueError("another format")
        findings = []
        for i, f in enumerate(doc["findings"]):
            finding = Finding(**{**f, "windows": [tuple(w) for w in f["windows"]]})
            finding.evidence = _read_table(folder / f"evidence-{i}.arrow")  # stored in order: not sorted again
            findings.append(finding)
        return Analysis(
            trace_path="",
            source_format="",
            headline=doc["headline"],
            metrics=[Metric(**m) for m in doc["metrics"]],
            findings=findings,
            steps=_read_table(folder / "steps.arrow"),
            devices=_read_table(folder / "devices.arrow"),
            rules=[RuleRun(**r) for r in doc["rules"]],
            rule_errors=list(doc["rule_errors"]),
            step_source=doc["step_source"],
        )
    except Exception:  # damaged or partly deleted (JSON, Arrow IPC or a field): recompute, and store it anew
        shutil.rmtree(folder, ignore_errors=True)
        return None


def save(entry: Path | None, k: str | None, analysis: Analysis) -> bool:
    """Store `analysis` under folder `k`; whether it was stored. Only the parts that depend on the key are kept."""
    if entry is None or k is None or analysis.serving is not None:
        return False
    parent = entry / FOLDER
    try:
        parent.mkdir(exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=parent))
    except OSError:
        return False
    try:
        findings = []
        for i, f in enumerate(analysis.findings):
            _write_table(tmp / f"evidence-{i}.arrow", f.evidence)
            d = {fld.name: getattr(f, fld.name) for fld in dataclasses.fields(f) if fld.name != "evidence"}
            findings.append(d | {"windows": [[int(s), int(e)] for s, e in f.windows]})
        _write_table(tmp / "steps.arrow", analysis.steps)
        _write_table(tmp / "devices.arrow", analysis.devices)
        doc = {
            "format": FORMAT,
            "created": time.time(),
            "headline": analysis.headline,
            "metrics": [dataclasses.asdict(m) for m in analysis.metrics],
            "findings": findings,
            "rules": [dataclasses.asdict(r) for r in analysis.rules],
            "rule_errors": list(analysis.rule_errors),
            "step_source": analysis.step_source,
        }
        # exact floats (NaN too); a type JSON cannot write raises, and the analysis is simply not stored
        (tmp / _DOC).write_text(json.dumps(doc, allow_nan=True, ensure_ascii=False), encoding="utf-8")
        try:
            os.replace(tmp, parent / k)
        except OSError:  # another run stored the same key first: theirs is as good
            shutil.rmtree(tmp, ignore_errors=True)
        evict(parent, MAX_VARIANTS)
        return True
    except Exception:  # a value JSON cannot spell exactly, a full or read-only disk: the next run recomputes
        shutil.rmtree(tmp, ignore_errors=True)
        return False


def _write_table(path: Path, table) -> None:
    import pyarrow as pa

    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)


def _read_table(path: Path):
    import pyarrow as pa

    with pa.memory_map(str(path), "r") as source:
        return pa.ipc.open_file(source).read_all()
