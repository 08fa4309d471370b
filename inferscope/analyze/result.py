"""The result of `inferscope analyze`: typed metrics, ranked findings and per-step rows.

These dataclasses are the contract between the analysis engine (inferscope/analyze/), the report renderers and
`inferscope compare`: renderers and compare read only these objects (or their JSON form), never the SQL. The JSON
form is versioned (`SCHEMA_VERSION`) and described by inferscope/schemas/analysis-v1.schema.json and
docs/analysis-json.md; a change that removes or renames a field bumps the version.

Identity rules that compare relies on:
* A metric is identified by (id, device_id, key). Each id has one fixed unit, polarity and scope; device-scoped
  metrics repeat once per device, phase-scoped ones once per phase (key = phase name). docs/metrics.md lists the ids.
* A finding is identified by (rule_id, device_id, pid, tid); impact_ns is the GPU time the rule says is lost or at
  stake, in ns. Findings are ranked by impact_ns, highest first.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pyarrow as pa

if TYPE_CHECKING:
    import pandas as pd

SCHEMA_VERSION = "1"
SEVERITIES = ("high", "medium", "low", "info")
POLARITIES = ("lower", "higher", "none")
SCOPES = ("trace", "device", "step", "phase", "process")


@dataclass
class Metric:
    """One number with its unit and which direction is better (compare gates on `polarity`)."""

    id: str
    value: float | None
    unit: str
    polarity: str
    scope: str
    device_id: int | None = None
    description: str = ""
    key: str | None = None

    @property
    def qualified_id(self) -> str:
        """`id`, `id@gpu0` for a device metric, `id[decode]` for a keyed one: unique within one analysis."""
        out = self.id
        if self.device_id is not None:
            out += f"@gpu{self.device_id}"
        if self.key is not None:
            out += f"[{self.key}]"
        return out

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "value": _json_number(self.value),
            "unit": self.unit,
            "polarity": self.polarity,
            "scope": self.scope,
            "device_id": self.device_id,
            "key": self.key,
            "description": self.description,
        }

    @classmethod
    def from_dict(cls, d: dict) -> "Metric":
        return cls(
            id=d["id"],
            value=d.get("value"),
            unit=d["unit"],
            polarity=d["polarity"],
            scope=d["scope"],
            device_id=d.get("device_id"),
            description=d.get("description", ""),
            key=d.get("key"),
        )


@dataclass
class Finding:
    """One problem a rule found: what, where, how much GPU time it costs, and what to do about it."""

    rule_id: str
    title: str
    severity: str
    impact_ns: int
    summary: str
    recommendation: str
    device_id: int | None = None
    pid: int | None = None
    tid: int | None = None
    windows: list[tuple[int, int]] = field(default_factory=list)
    evidence: pa.Table = field(default_factory=lambda: pa.table({}))
    evidence_total: int = 0
    why: str = ""

    def __post_init__(self) -> None:
        self.evidence = evidence_order(self.evidence)

    def to_dict(self, evidence_rows: int | None = None) -> dict:
        rows = self.evidence if evidence_rows is None else self.evidence.slice(0, evidence_rows)
        return {
            "rule_id": self.rule_id,
            "title": self.title,
            "severity": self.severity,
            "impact_ns": int(self.impact_ns),
            "summary": self.summary,
            "recommendation": self.recommendation,
            "why": self.why,
            "device_id": self.device_id,
            "pid": self.pid,
            "tid": self.tid,
            "windows": [[int(s), int(e)] for s, e in self.windows],
            "evidence_columns": list(self.evidence.column_names),
            "evidence": [_json_row(r) for r in rows.to_pylist()],
            "evidence_total": int(self.evidence_total),
        }

    @classmethod
    def from_dict(cls, d: dict) -> "Finding":
        evidence = (
            pa.Table.from_pylist(d.get("evidence") or [])
            if d.get("evidence")
            else pa.table({c: pa.array([], pa.null()) for c in d.get("evidence_columns", [])})
        )
        return cls(
            rule_id=d["rule_id"],
            title=d["title"],
            severity=d["severity"],
            impact_ns=d["impact_ns"],
            summary=d["summary"],
            recommendation=d["recommendation"],
            device_id=d.get("device_id"),
            pid=d.get("pid"),
            tid=d.get("tid"),
            windows=[tuple(w) for w in d.get("windows", [])],
            evidence=evidence,
            evidence_total=d.get("evidence_total", evidence.num_rows),
            why=d.get("why", ""),
        )


@dataclass
class RuleRun:
    """Which rule ran, with which parameter values, and how many findings it produced."""

    id: str
    title: str
    source: str
    params: dict[str, Any]
    findings: int = 0
    error: str | None = None

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "title": self.title,
            "source": self.source,
            "params": self.params,
            "findings": self.findings,
            "error": self.error,
        }


@dataclass
class Analysis:
    """Everything `inferscope analyze` says about one trace.

    `headline` is one sentence on what limits the trace. `findings` are ranked by impact_ns (highest first).
    `steps` has one row per detected iteration (empty when the trace has no step markers). `devices` has one row
    per GPU. `rule_errors` lists rules that could not run (file and line), while the other rules still ran.
    `data_quality` counts the rows the conversion left out as impossible ({"kernels.end_before_start":
    {"count": 3, "description": ...}}), so every figure can be read knowing what it excludes. `serving` is the
    request-level block (analyze/serving.py) when a request file was attached, else None (and absent from JSON).
    `window` is the part of the trace analysed (`engine.window.Window.to_dict()`) when the analysis was asked for
    part of it (--window, --skip-warmup), else None (and absent from JSON).
    """

    trace_path: str
    source_format: str
    headline: str
    metrics: list[Metric]
    findings: list[Finding]
    steps: pa.Table
    devices: pa.Table
    rules: list[RuleRun] = field(default_factory=list)
    rule_errors: list[str] = field(default_factory=list)
    step_source: str | None = None
    evidence_rows: int = 50
    data_quality: dict[str, dict] = field(default_factory=dict)
    serving: dict | None = None
    window: dict | None = None

    schema_version = SCHEMA_VERSION

    def __post_init__(self) -> None:
        # Findings are ranked by impact; equal impacts (two GPUs doing the same work) keep one fixed order.
        self.findings = sorted(self.findings, key=_finding_key)

    def metric(self, id: str, device_id: int | None = None, key: str | None = None) -> Metric | None:
        for m in self.metrics:
            if m.id == id and m.device_id == device_id and m.key == key:
                return m
        return None

    def value(self, id: str, device_id: int | None = None, key: str | None = None) -> float | None:
        m = self.metric(id, device_id, key)
        return None if m is None else m.value

    def to_dict(self) -> dict:
        out = self._to_dict()
        if self.serving is not None:
            out["serving"] = self.serving
        if self.window is not None:
            out["window"] = self.window
        return out

    def _to_dict(self) -> dict:
        from ..version import __version__

        return {
            "schema_version": SCHEMA_VERSION,
            "tool": {"name": "inferscope", "version": __version__},
            "trace": {"path": self.trace_path, "source_format": self.source_format},
            "headline": self.headline,
            "metrics": [m.to_dict() for m in self.metrics],
            "findings": [f.to_dict(self.evidence_rows) for f in self.findings],
            "steps": {
                "source": self.step_source,
                "columns": list(self.steps.column_names),
                "rows": [_json_row(r) for r in self.steps.to_pylist()],
            },
            "devices": [_json_row(r) for r in self.devices.to_pylist()],
            "rules": [r.to_dict() for r in self.rules],
            "rule_errors": list(self.rule_errors),
            "data_quality": {k: dict(self.data_quality[k]) for k in sorted(self.data_quality)},
        }

    def to_json(self, indent: int | None = 1) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False, allow_nan=False)

    @classmethod
    def from_dict(cls, d: dict) -> "Analysis":
        """Rebuild an Analysis from its JSON form (compare reads saved analyses this way)."""
        if str(d.get("schema_version")) != SCHEMA_VERSION:
            from ..errors import CompareError

            raise CompareError(
                f"analysis JSON has schema_version {d.get('schema_version')!r}; this InferScope "
                f"reads version {SCHEMA_VERSION}"
            )
        steps = d.get("steps") or {}
        return cls(
            trace_path=d["trace"]["path"],
            source_format=d["trace"]["source_format"],
            headline=d["headline"],
            metrics=[Metric.from_dict(m) for m in d["metrics"]],
            findings=[Finding.from_dict(f) for f in d["findings"]],
            steps=_table_from_rows(steps.get("rows", []), steps.get("columns", [])),
            devices=pa.Table.from_pylist(d.get("devices", [])),
            rules=[RuleRun(**r) for r in d.get("rules", [])],
            rule_errors=list(d.get("rule_errors", [])),
            step_source=steps.get("source"),
            data_quality=dict(d.get("data_quality") or {}),  # absent from analyses saved before it existed
            serving=d.get("serving"),
            window=d.get("window"),
        )

    @classmethod
    def from_json(cls, text: str) -> "Analysis":
        return cls.from_dict(json.loads(text))

    def metrics_table(self) -> pa.Table:
        return pa.Table.from_pylist([m.to_dict() for m in self.metrics], schema=_METRIC_SCHEMA)

    def findings_table(self) -> pa.Table:
        rows = [
            {k: v for k, v in f.to_dict(0).items() if k not in ("evidence", "evidence_columns", "windows")}
            | {"windows": len(f.windows)}
            for f in self.findings
        ]
        return pa.Table.from_pylist(rows, schema=_FINDING_SCHEMA)

    def metrics_df(self) -> "pd.DataFrame":
        return self.metrics_table().to_pandas()

    def findings_df(self) -> "pd.DataFrame":
        return self.findings_table().to_pandas()


_METRIC_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("value", pa.float64()),
        ("unit", pa.string()),
        ("polarity", pa.string()),
        ("scope", pa.string()),
        ("device_id", pa.int64()),
        ("key", pa.string()),
        ("description", pa.string()),
    ]
)
_FINDING_SCHEMA = pa.schema(
    [
        ("rule_id", pa.string()),
        ("title", pa.string()),
        ("severity", pa.string()),
        ("impact_ns", pa.int64()),
        ("summary", pa.string()),
        ("recommendation", pa.string()),
        ("why", pa.string()),
        ("device_id", pa.int64()),
        ("pid", pa.int64()),
        ("tid", pa.int64()),
        ("evidence_total", pa.int64()),
        ("windows", pa.int64()),
    ]
)


def evidence_sortable(t: pa.DataType) -> bool:
    """A column evidence_order breaks ties on (rule_evidence.py orders by the same ones in SQL)."""
    return (
        pa.types.is_integer(t)
        or pa.types.is_floating(t)
        or pa.types.is_string(t)
        or pa.types.is_boolean(t)
        or pa.types.is_large_string(t)
        or pa.types.is_decimal(t)
        or pa.types.is_temporal(t)
    )


def evidence_order(table: pa.Table) -> pa.Table:
    """Evidence rows by impact_ns (highest first), ties broken by every other column in turn.

    Rules rank evidence by impact only; rows with equal impact (two idle gaps of the same length) came out of a
    parallel DuckDB query in whatever order its threads finished, so the JSON differed between runs. A total
    order makes `analyze -f json` byte-identical run to run without changing what ranks first."""
    if table.num_rows < 2 or "impact_ns" not in table.column_names:
        return table
    keys = [("impact_ns", "descending")] + [
        (n, "ascending")
        for n in table.column_names
        if n != "impact_ns" and evidence_sortable(table.schema.field(n).type)
    ]
    import pyarrow.compute as pc

    try:  # pyarrow >= 25 takes the null placement per key (nulls last); older ones one for all keys
        order = pc.sort_indices(table, sort_keys=[(n, o, "at_end") for n, o in keys])
    except (TypeError, ValueError, pa.ArrowInvalid):
        try:
            order = pc.sort_indices(table, sort_keys=keys, null_placement="at_end")
        except pa.ArrowNotImplementedError:  # a column type Arrow cannot sort: keep the rule's order
            return table
    except pa.ArrowNotImplementedError:
        return table
    return table.take(order)


def _finding_key(f: "Finding"):
    rank = SEVERITIES.index(f.severity) if f.severity in SEVERITIES else len(SEVERITIES)
    ids = tuple((v is None, v if v is not None else 0) for v in (f.device_id, f.pid, f.tid))
    return (-int(f.impact_ns), rank, f.rule_id, ids, f.summary)


def _json_number(v):
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        return None
    return v


def _json_row(row: dict) -> dict:
    out = {}
    for k, v in row.items():
        if isinstance(v, Decimal):
            v = int(v) if v == v.to_integral_value() else float(v)
        if isinstance(v, float):
            v = _json_number(v)
        elif isinstance(v, (bytes, bytearray)):
            v = v.hex()
        elif v is not None and not isinstance(v, (str, int, bool, list, dict)):
            v = str(v)
        out[k] = v
    return out


def _table_from_rows(rows: list[dict], columns: list[str]) -> pa.Table:
    if rows:
        return pa.Table.from_pylist(rows)
    return pa.table({c: pa.array([], pa.null()) for c in columns})
