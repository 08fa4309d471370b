"""Typed metrics from sql/metrics/*.sql.

Each file declares the metric ids it emits in its header (`-- metric ID: UNIT, POLARITY, SCOPE` plus a
description) and its SELECT returns long rows `id, value[, device_id][, key]`. The declared list is the stable,
documented contract (docs/metrics.md is generated from it): a trace-scoped metric the query does not emit is still
reported, with value None, so compare always sees the same ids; an emitted id that is not declared is an error.
"""

from __future__ import annotations

import math
from pathlib import Path

import duckdb

from .result import Metric
from .. import duckdb_conn
from ..errors import RuleError
from ..resources import sql_dir
from . import headers

METRIC_KEYS = frozenset({"about", "metric"})


def files() -> list[Path]:
    return sorted((sql_dir() / "metrics").glob("*.sql"))


def declarations() -> list[tuple[Path, headers.Header]]:
    out = []
    seen: dict[str, str] = {}
    for path in files():
        h = headers.parse(path, METRIC_KEYS)
        if "about" not in h.fields:
            raise RuleError(f"{path}:1: metric file lacks '-- about: what it computes'")
        for d in h.metrics:
            if d.id in seen:
                raise RuleError(f"{path}:{d.line}: metric {d.id!r} already declared in {seen[d.id]}")
            seen[d.id] = f"{path.name}:{d.line}"
        out.append((path, h))
    return out


def compute(con: duckdb.DuckDBPyConnection) -> list[Metric]:
    out: list[Metric] = []
    for path, h in declarations():
        decl = {d.id: d for d in h.metrics}
        try:
            rows = con.execute(h.body).fetchall()
            cols = [c[0] for c in con.description]
        except duckdb.OutOfMemoryException as exc:
            raise duckdb_conn.out_of_memory(exc, path.name) from exc
        except duckdb.Error as exc:
            raise RuleError(f"{path}:{h.body_line}: {str(exc).splitlines()[0]}") from exc
        emitted: dict[str, list[Metric]] = {d: [] for d in decl}
        for row in rows:
            r = dict(zip(cols, row))
            mid = r["id"]
            if mid not in decl:
                raise RuleError(f"{path}:{h.body_line}: query emits metric {mid!r} that the header does not declare")
            d = decl[mid]
            value = r.get("value")
            if value is not None:
                value = float(value)
                if math.isnan(value) or math.isinf(value):
                    value = None
            emitted[mid].append(
                Metric(
                    id=mid,
                    value=value,
                    unit=d.unit,
                    polarity=d.polarity,
                    scope=d.scope,
                    device_id=r.get("device_id"),
                    description=d.description,
                    key=r.get("key"),
                )
            )
        for d in h.metrics:
            found = sorted(emitted[d.id], key=lambda m: (m.device_id is None, m.device_id or 0, m.key or ""))
            if not found and d.scope == "trace":
                found = [
                    Metric(
                        id=d.id, value=None, unit=d.unit, polarity=d.polarity, scope=d.scope, description=d.description
                    )
                ]
            out.extend(found)
    return out


def markdown() -> str:
    """docs/metrics.md: every metric id with unit, polarity, scope and meaning, generated from the SQL headers."""
    lines = [
        "# InferScope metrics",
        "",
        "Generated from the headers of `sql/metrics/*.sql` by `python -m inferscope.analyze.metrics`. A metric is",
        "identified by `(id, device_id, key)`: device-scoped metrics appear once per GPU, phase-scoped ones once",
        "per phase (`key` = prefill / decode). `polarity` says which direction is better (`inferscope compare`",
        "gates on it). Units: `ns`, `bytes`, `bytes/s`, `pct` (0-100), `count`, `ratio`.",
        "",
    ]
    for path, h in declarations():
        lines += [
            f"## {path.stem}",
            "",
            h.fields["about"],
            "",
            "| id | unit | polarity | scope | meaning |",
            "|---|---|---|---|---|",
        ]
        lines += [f"| `{d.id}` | {d.unit} | {d.polarity} | {d.scope} | {d.description} |" for d in h.metrics]
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    Path("docs/metrics.md").write_text(markdown(), encoding="utf-8")
