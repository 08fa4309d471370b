"""Bottleneck rules: one SQL file each (sql/rules/, plus user directories), turned into ranked findings.

A rule's SELECT returns evidence rows with an `impact_ns` column (GPU time lost or at stake for that row) and,
when they apply, `start_ns`/`end_ns` (a time window), `device_id`, `pid`, `tid` and `severity`. Rows are grouped
into findings by the header's `group_by` columns; a finding's impact is the sum of its rows' impact_ns, and its
summary/recommendation are the header templates filled with the group's numbers (see docs/rules.md). Keeping
the aggregation here, not in each rule, is what lets a user rule be a plain SELECT.

Parameters are DuckDB named parameters (`$gap_ns`) with defaults in the header, overridable per run.
"""
from __future__ import annotations

import re
import string
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from ..analysis import SEVERITIES, Finding, RuleRun
from ..errors import QueryError, RuleError
from ..resources import sql_dir
from ..units import fmt_bytes, fmt_int, fmt_ns, fmt_pct, fmt_rate
from . import headers

RULE_KEYS = frozenset({"rule", "title", "severity", "group_by", "summary", "recommendation", "why", "impact",
                       "parity", "param"})
REQUIRED = ("rule", "title", "severity", "summary", "recommendation")
MAX_WINDOWS = 20
MAX_EVIDENCE_KEPT = 1000
MAX_FINDINGS_PER_RULE = 50
_ID = re.compile(r"^[a-z][a-z0-9_]*$")
_PARAM_REF = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


@dataclass
class Rule:
    id: str
    title: str
    severity: str
    group_by: list[str]
    summary: str
    recommendation: str
    why: str
    impact_doc: str
    parity: str
    params: dict[str, headers.Param]
    sql: str
    header: headers.Header
    builtin: bool = True

    @property
    def path(self) -> Path:
        return self.header.path

    def used_params(self) -> list[str]:
        code = "\n".join(line.split("--", 1)[0] for line in self.sql.splitlines())
        return sorted({m for m in _PARAM_REF.findall(code) if m in self.params})


def builtin_dir() -> Path:
    return sql_dir() / "rules"


def load(path: Path, builtin: bool = False) -> Rule:
    h = headers.parse(path, RULE_KEYS)
    for key in REQUIRED:
        if key not in h.fields:
            raise RuleError(f"{path}:1: rule header lacks '-- {key}: ...'")
    rid = h.fields["rule"]
    if not _ID.match(rid):
        raise RuleError(f"{h.where('rule')}: rule id {rid!r} must be lower_snake_case")
    sev = h.fields["severity"]
    if sev not in SEVERITIES + ("auto",):
        raise RuleError(f"{h.where('severity')}: severity must be auto, {', '.join(SEVERITIES)}; not {sev!r}")
    if not h.body.strip():
        raise RuleError(f"{path}:{h.body_line}: rule {rid} has no SQL after its header")
    group_by = [c.strip() for c in h.fields.get("group_by", "device_id, pid").split(",") if c.strip()]
    return Rule(id=rid, title=h.fields["title"], severity=sev, group_by=group_by, summary=h.fields["summary"],
                recommendation=h.fields["recommendation"], why=h.fields.get("why", ""),
                impact_doc=h.fields.get("impact", ""), parity=h.fields.get("parity", ""),
                params={p.name: p for p in h.params}, sql=h.body, header=h, builtin=builtin)


def discover(extra_dirs=()) -> tuple[list[Rule], list[str]]:
    """Built-in rules, then each user directory's *.sql; malformed files become error strings, not exceptions."""
    rules: list[Rule] = []
    errors: list[str] = []
    seen: dict[str, Path] = {}
    sources = [(builtin_dir(), True)] + [(Path(d).expanduser(), False) for d in extra_dirs]
    for directory, builtin in sources:
        if not directory.is_dir():
            raise QueryError(f"--rules {directory}: not a directory")
        for path in sorted(directory.glob("*.sql")):
            try:
                rule = load(path, builtin)
            except RuleError as exc:
                errors.append(str(exc))
                continue
            except (OSError, UnicodeDecodeError) as exc:
                errors.append(f"{path}:1: cannot read rule: {exc}")
                continue
            if rule.id in seen:
                errors.append(f"{rule.header.where('rule')}: rule id {rule.id!r} is already defined by {seen[rule.id]}")
                continue
            seen[rule.id] = path
            rules.append(rule)
    return rules, errors


def resolve_params(rules: list[Rule], overrides: dict[str, dict[str, object]] | None) -> dict[str, dict]:
    """Defaults with overrides applied; an unknown rule or key, or a value of the wrong type, is a user error."""
    by_id = {r.id: r for r in rules}
    values = {r.id: {k: p.default for k, p in r.params.items()} for r in rules}
    for rid, kv in (overrides or {}).items():
        if rid not in by_id:
            raise QueryError(f"--param {rid}.…: no rule {rid!r}; rules are {', '.join(sorted(by_id))}")
        rule = by_id[rid]
        for key, value in kv.items():
            if key not in rule.params:
                known = ", ".join(sorted(rule.params)) or "none"
                raise QueryError(f"--param {rid}.{key}: rule {rid} has no parameter {key!r} (its parameters: {known})")
            values[rid][key] = _coerce(rid, key, rule.params[key].default, value)
    return values


def _coerce(rid: str, key: str, default, value):
    if isinstance(value, str):
        value = headers.parse_literal(value)
    if default is None or value is None:
        return value
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
    elif isinstance(default, int):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
    elif isinstance(default, float):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif isinstance(default, str):
        return str(value)
    raise QueryError(f"--param {rid}.{key}={value!r}: expected a {type(default).__name__} like the default {default!r}")


def execute(con: duckdb.DuckDBPyConnection, rule: Rule, values: dict) -> pa.Table:
    bound = {k: values[k] for k in rule.used_params()}
    try:
        table = con.sql(rule.sql, params=bound or None).to_arrow_table()
    except duckdb.Error as exc:
        raise RuleError(_sql_error(rule, exc)) from exc
    table = _plain_numbers(table)
    if "impact_ns" not in table.column_names:
        raise RuleError(f"{rule.path}:{rule.header.body_line}: rule {rule.id} returns no impact_ns column "
                        f"(columns: {', '.join(table.column_names)})")
    return table


def _plain_numbers(table: pa.Table) -> pa.Table:
    """DuckDB sums of BIGINT are HUGEINT, which arrive as decimals: make them int64 (float64 with a scale)."""
    for i, f in enumerate(table.schema):
        if pa.types.is_decimal(f.type):
            target = pa.int64() if f.type.scale == 0 else pa.float64()
            table = table.set_column(i, f.name, table.column(i).cast(target, safe=False))
    return table


def _sql_error(rule: Rule, exc: Exception) -> str:
    text = str(exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    line = rule.header.body_line
    m = re.search(r"LINE (\d+):", text)
    if m:
        line += int(m.group(1)) - 1
    else:  # binder errors carry no position: point at the first line naming the quoted identifier
        name = re.search(r'(?:name|column|function) "?([A-Za-z_][A-Za-z0-9_.]*)"?', first)
        if name:
            for i, code in enumerate(rule.sql.splitlines()):
                if re.search(rf"\b{re.escape(name.group(1))}\b", code.split("--", 1)[0]):
                    line += i
                    break
    return f"{rule.path}:{line}: rule {rule.id}: {first}"


@dataclass
class Basis:
    """What auto severity and `{share}` compare an impact with: the device's active span, or the trace's GPU span."""

    device_span_ns: dict[int, int] = field(default_factory=dict)
    gpu_span_ns: int = 0

    def for_device(self, device_id) -> int:
        return self.device_span_ns.get(device_id) or self.gpu_span_ns


def auto_severity(impact_ns: int, basis_ns: int) -> str:
    if impact_ns <= 0 or basis_ns <= 0:
        return "info"
    share = impact_ns / basis_ns
    return "high" if share >= 0.10 else "medium" if share >= 0.03 else "low"


def findings(rule: Rule, table: pa.Table, values: dict, basis: Basis) -> list[Finding]:
    if table.num_rows == 0:
        return []
    impact = pc.fill_null(table.column("impact_ns").cast(pa.int64()), 0)
    table = table.set_column(table.column_names.index("impact_ns"), "impact_ns", impact)
    table = table.take(pc.sort_indices(table, [("impact_ns", "descending")]))
    keys = [k for k in rule.group_by if k in table.column_names]
    df = table.select(keys).to_pandas() if keys else None
    groups = ([(None, list(range(table.num_rows)))] if not keys
              else list(df.groupby(keys, dropna=False, sort=False).indices.items()))
    out = []
    for _, idx in groups:
        rows = table.take(pa.array(sorted(idx), pa.int64()))
        out.append(_finding(rule, rows, values, basis))
    out.sort(key=lambda f: -f.impact_ns)
    return out[:MAX_FINDINGS_PER_RULE]


def _single(rows: pa.Table, col: str):
    if col not in rows.column_names:
        return None
    vals = set(rows.column(col).to_pylist())
    return next(iter(vals)) if len(vals) == 1 else None


def _finding(rule: Rule, rows: pa.Table, values: dict, basis: Basis) -> Finding:
    impact = int(pc.sum(rows.column("impact_ns")).as_py() or 0)
    device_id, pid, tid = (_single(rows, c) for c in ("device_id", "pid", "tid"))
    basis_ns = basis.for_device(device_id)
    severity = rule.severity if rule.severity != "auto" else auto_severity(impact, basis_ns)
    if "severity" in rows.column_names:
        given = [s for s in rows.column("severity").to_pylist() if s in SEVERITIES]
        if given:
            severity = min(given, key=SEVERITIES.index)
    fields = _template_fields(rows, values, impact, basis_ns, device_id, pid, tid)
    summary = _fill(rule, "summary", fields)
    recommendation = _fill(rule, "recommendation", fields)
    windows = []
    if "start_ns" in rows.column_names and "end_ns" in rows.column_names:
        pairs = [(s, e) for s, e in zip(rows.column("start_ns").to_pylist(), rows.column("end_ns").to_pylist())
                 if s is not None and e is not None]
        windows = sorted((int(s), int(e)) for s, e in pairs[:MAX_WINDOWS])
    return Finding(rule_id=rule.id, title=rule.title, severity=severity, impact_ns=impact, summary=summary,
                   recommendation=recommendation, device_id=device_id, pid=pid, tid=tid, windows=windows,
                   evidence=rows.slice(0, MAX_EVIDENCE_KEPT), evidence_total=rows.num_rows, why=rule.why)


def _template_fields(rows: pa.Table, values: dict, impact: int, basis_ns: int, device_id, pid, tid) -> dict:
    first = {k: v for k, v in rows.slice(0, 1).to_pylist()[0].items()}
    fields = dict(first)
    for name in rows.column_names:
        col = rows.column(name)
        if pa.types.is_integer(col.type) or pa.types.is_floating(col.type) or pa.types.is_decimal(col.type):
            col = col.cast(pa.float64()) if pa.types.is_decimal(col.type) else col
            fields[f"sum_{name}"] = pc.sum(col).as_py()
            fields[f"max_{name}"] = pc.max(col).as_py()
            fields[f"min_{name}"] = pc.min(col).as_py()
            fields[f"avg_{name}"] = pc.mean(col).as_py()
    fields.update({f"p_{k}": v for k, v in values.items()})
    gpu = f"GPU {device_id}" if device_id is not None else "all GPUs"
    fields.update(n=rows.num_rows, s="" if rows.num_rows == 1 else "s", es="" if rows.num_rows == 1 else "es",
                  ies="y" if rows.num_rows == 1 else "ies", were="was" if rows.num_rows == 1 else "were",
                  impact=impact, impact_ns=impact, basis_ns=basis_ns,
                  share=(impact * 100.0 / basis_ns) if basis_ns else None, gpu=gpu,
                  device_id=device_id if device_id is not None else first.get("device_id"),
                  pid=pid if pid is not None else first.get("pid"),
                  tid=tid if tid is not None else first.get("tid"))
    return fields


class _Formatter(string.Formatter):
    """str.format with unit specs: {x:time} {x:bytes} {x:rate} {x:pct} {x:int}; None prints as n/a."""

    _UNITS = {"time": fmt_ns, "bytes": fmt_bytes, "rate": fmt_rate, "pct": fmt_pct, "int": fmt_int}

    def format_field(self, value, format_spec):
        if format_spec in self._UNITS:
            return self._UNITS[format_spec](value)
        if value is None:
            return "n/a"
        return super().format_field(value, format_spec)


_FMT = _Formatter()


def _fill(rule: Rule, key: str, fields: dict) -> str:
    template = getattr(rule, key)
    try:
        return " ".join(_FMT.vformat(template, (), fields).split())
    except KeyError as exc:
        raise RuleError(f"{rule.header.where(key)}: rule {rule.id}: {key} refers to {{{exc.args[0]}}}, which the "
                        f"query does not return") from exc
    except (ValueError, TypeError, IndexError) as exc:
        raise RuleError(f"{rule.header.where(key)}: rule {rule.id}: cannot fill {key}: {exc}") from exc


def run_all(con, rules: list[Rule], values: dict[str, dict], basis: Basis) -> tuple[list[Finding], list[RuleRun], list[str]]:
    out: list[Finding] = []
    runs: list[RuleRun] = []
    errors: list[str] = []
    for rule in rules:
        run = RuleRun(id=rule.id, title=rule.title, source=str(rule.path) if not rule.builtin else
                      f"sql/rules/{rule.path.name}", params=dict(values[rule.id]))
        try:
            found = findings(rule, execute(con, rule, values[rule.id]), values[rule.id], basis)
        except RuleError as exc:
            run.error = str(exc)
            errors.append(str(exc))
            found = []
        run.findings = len(found)
        runs.append(run)
        out.extend(found)
    return out, runs, errors


_DOC_INTRO = """# InferScope rules

Generated from the headers of `sql/rules/*.sql` by `python -m inferscope.analyze.rules`.

## Writing a rule

A rule is one `.sql` file: a comment header, then one DuckDB `SELECT` over the trace model tables and the views
in `sql/views/` (docs/trace-model.md; `inferscope query TRACE "SELECT * FROM gpu_idle_causes"` shows a view).
Load your own with `inferscope analyze TRACE --rules DIR` (or `Trace.analyze(rules_dirs=[DIR])`).

```sql
-- rule: long_kernels
-- title: Kernels longer than a threshold
-- severity: auto
-- group_by: device_id
-- param min_ns = 1000000: shortest kernel reported (ns)
-- impact: the kernel's duration.
-- summary: {n} kernel{s} on {gpu} ran longer than {p_min_ns:time}, {impact:time} in total; the longest is
--   {name} ({dur_ns:time}).
-- recommendation: Look at these kernels with Nsight Compute.
-- why: Long kernels dominate step time.
SELECT dur_ns AS impact_ns, start_ns, end_ns, dur_ns, device_id, pid, name
FROM kernels WHERE dur_ns >= $min_ns
```

Header keys (one per line, `-- key: value`; a value continues on lines indented by two spaces):

| key | required | meaning |
|---|---|---|
| `rule` | yes | id, lower_snake_case, unique across all loaded rules |
| `title` | yes | short name of the problem |
| `severity` | yes | `high`, `medium`, `low`, `info`, or `auto` (by impact relative to the device's active span: >= 10 % high, >= 3 % medium, > 0 low, 0 info) |
| `summary` | yes | one sentence template (below) |
| `recommendation` | yes | what to do; also a template |
| `group_by` | no | columns whose values split the rows into findings (default `device_id, pid`; absent columns are ignored) |
| `param NAME = DEFAULT: doc` | no | a parameter, used in the SQL as `$NAME`; override with `--param RULE.NAME=VALUE` (typed like the default) |
| `impact`, `why`, `parity` | no | what impact_ns measures; why the recommendation helps; relation to an nsys rule |

The query must return `impact_ns` (GPU time lost or at stake for the row, ns). Optional columns with a meaning:
`start_ns`/`end_ns` (the finding's time windows), `device_id`, `pid`, `tid` (where), `severity` (overrides the
header per row). Rows are grouped by `group_by` into findings; a finding's impact is the sum of its rows'
impact_ns; findings of all rules are ranked by impact.

Templates are Python format strings over the finding's rows: `{col}` is the value in its costliest row, `{sum_col}`,
`{max_col}`, `{min_col}`, `{avg_col}` aggregate numeric columns, `{n}` counts rows (`{s}`, `{es}`, `{ies}`, `{were}` agree with it),
`{impact}` is the finding's impact, `{share}` its percentage of the device's active span, `{gpu}` reads "GPU 3" or
"all GPUs", `{p_NAME}` is a parameter value. Unit formats: `{x:time}` (ns), `{x:bytes}`, `{x:rate}` (bytes/s),
`{x:pct}`, `{x:int}`.

A malformed rule (bad header line, SQL error, missing impact_ns, a template naming a column the query does not
return) is reported as `FILE:LINE: message` in `rule_errors` (and as a warning by the CLI); the other rules still run.

## Built-in rules
"""


def markdown() -> str:
    rules, errors = discover()
    if errors:
        raise RuleError("; ".join(errors))
    out = [_DOC_INTRO]
    for r in rules:
        out += [f"### `{r.id}`: {r.title}", "", f"Severity: {r.severity}. Findings per: {', '.join(r.group_by)}.", ""]
        if r.parity:
            out += [f"nsys parity: {r.parity}", ""]
        out += [f"Impact: {r.impact_doc}", "", f"Why: {r.why}", "", f"Recommendation: {r.recommendation}", ""]
        if r.params:
            out += ["| parameter | default | meaning |", "|---|---|---|"]
            out += [f"| `{p.name}` | `{p.default}` | {p.doc} |" for p in r.params.values()]
            out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    Path("docs/rules.md").write_text(markdown(), encoding="utf-8")
