"""Running rules and turning their evidence rows into ranked findings.

A rule's SELECT returns evidence rows with an `impact_ns` column (GPU time lost or at stake for that row) and,
when they apply, `start_ns`/`end_ns` (a time window), `device_id`, `pid`, `tid` and `severity`. Rows are grouped
into findings by the header's `group_by` columns; a finding's impact is the sum of its rows' impact_ns, and its
summary/recommendation are the header templates filled with the group's numbers (see docs/rules.md). Keeping
the aggregation here, not in each rule, is what lets a user rule be a plain SELECT.
"""

from __future__ import annotations

import string
from collections import Counter
from dataclasses import dataclass, field

import duckdb
import pyarrow as pa

from .result import SEVERITIES, Finding, RuleRun
from .. import duckdb_conn
from ..errors import RuleError
from ..units import fmt_bytes, fmt_int, fmt_ns, fmt_pct, fmt_rate
from .rule_files import Rule, sql_error
from .rule_sandbox import check_sandbox
from . import rule_evidence, rule_steady

MAX_WINDOWS = 20
MAX_EVIDENCE_KEPT = 1000
MAX_FINDINGS_PER_RULE = 50


def execute(con: duckdb.DuckDBPyConnection, rule: Rule, values: dict, at_most: int | None = None) -> pa.Table | None:
    """The rule's evidence rows; None when `at_most` is given and the rule returns more (rule_evidence.py)."""
    if not rule.builtin:
        check_sandbox(con, rule)
    bound = _bound(rule, values)
    if at_most is None:
        table = _sql_call(rule, lambda: con.sql(rule.sql, params=bound).to_arrow_table())
    else:
        table = _sql_call(rule, lambda: rule_evidence.fetch(con, rule.sql, bound, at_most))
        if table is None:
            return None
    table = _plain_numbers(table)
    if "impact_ns" not in table.column_names:
        raise RuleError(
            f"{rule.path}:{rule.header.body_line}: rule {rule.id} returns no impact_ns column "
            f"(columns: {', '.join(table.column_names)})"
        )
    return table


def _bound(rule: Rule, values: dict) -> dict | None:
    return {k: values[k] for k in rule.used_params()} or None


def _sql_call(rule: Rule, call):
    """`call()`, with DuckDB's errors as the rule's: out of memory and a closed database stop the analysis, any
    other error is this rule's RuleError."""
    try:
        return call()
    except duckdb.OutOfMemoryException as exc:  # not one rule's fault: every later rule would fail the same way
        raise duckdb_conn.out_of_memory(exc, f"rule {rule.id}") from exc
    except duckdb.FatalException:  # DuckDB closed the database: report this error, not the next rule's echo of it
        raise
    except duckdb.Error as exc:
        raise RuleError(sql_error(rule, exc)) from exc


def _plain_numbers(table: pa.Table) -> pa.Table:
    """DuckDB sums of BIGINT are HUGEINT, which arrive as decimals: make them int64 (float64 with a scale)."""
    for i, f in enumerate(table.schema):
        if pa.types.is_decimal(f.type):
            target = pa.int64() if f.type.scale == 0 else pa.float64()
            table = table.set_column(i, f.name, table.column(i).cast(target, safe=False))
    return table


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
    """The findings of a rule's evidence rows (`execute`'s table)."""
    keys = [k for k in rule.group_by if k in table.column_names]
    return _findings(rule, rule_evidence.arrow_groups(rule_evidence.prepared(table), keys, MAX_WINDOWS), values, basis)


def _findings(rule: Rule, groups: list[rule_evidence.Group], values: dict, basis: Basis) -> list[Finding]:
    out = [_finding(rule, g, values, basis) for g in groups]
    out.sort(key=lambda f: -f.impact_ns)
    return out[:MAX_FINDINGS_PER_RULE]


def _finding(rule: Rule, g: rule_evidence.Group, values: dict, basis: Basis) -> Finding:
    device_id, pid, tid = (g.ids[c] for c in rule_evidence.IDS)
    basis_ns = basis.for_device(device_id)
    severity = rule.severity if rule.severity != "auto" else auto_severity(g.impact, basis_ns)
    if g.severities:
        severity = min(g.severities, key=SEVERITIES.index)
    fields = _template_fields(g, values, basis_ns, device_id, pid, tid)
    return Finding(
        rule_id=rule.id,
        title=rule.title,
        severity=severity,
        impact_ns=g.impact,
        summary=_fill(rule, "summary", fields),
        recommendation=_fill(rule, "recommendation", fields),
        device_id=device_id,
        pid=pid,
        tid=tid,
        windows=g.windows,
        evidence=g.rows.slice(0, MAX_EVIDENCE_KEPT),
        evidence_total=g.n,
        why=rule.why,
    )


def _template_fields(g: rule_evidence.Group, values: dict, basis_ns: int, device_id, pid, tid) -> dict:
    first = {k: v for k, v in g.rows.slice(0, 1).to_pylist()[0].items()}
    fields = dict(first)
    fields.update(g.numbers)
    fields.update({f"p_{k}": v for k, v in values.items()})
    gpu = f"GPU {device_id}" if device_id is not None else "all GPUs"
    fields.update(
        n=g.n,
        s="" if g.n == 1 else "s",
        es="" if g.n == 1 else "es",
        ies="y" if g.n == 1 else "ies",
        were="was" if g.n == 1 else "were",
        impact=g.impact,
        impact_ns=g.impact,
        basis_ns=basis_ns,
        share=(g.impact * 100.0 / basis_ns) if basis_ns else None,
        gpu=gpu,
        device_id=device_id if device_id is not None else first.get("device_id"),
        pid=pid if pid is not None else first.get("pid"),
        tid=tid if tid is not None else first.get("tid"),
    )
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
        raise RuleError(
            f"{rule.header.where(key)}: rule {rule.id}: {key} refers to {{{exc.args[0]}}}, which the "
            f"query does not return"
        ) from exc
    except (ValueError, TypeError, IndexError) as exc:
        raise RuleError(f"{rule.header.where(key)}: rule {rule.id}: cannot fill {key}: {exc}") from exc


def run_all(
    con, rules: list[Rule], values: dict[str, dict], basis: Basis
) -> tuple[list[Finding], list[RuleRun], list[str]]:
    """Every rule, one after another on `con` (`analyze.run` spreads them over connections with `run_one`)."""
    wins = warmup_windows(con, rules)
    return gather([run_one(con, rule, values, basis, wins) for rule in rules])


def warmup_windows(con, rules: list[Rule]) -> dict:
    """The warm-up windows the steady-state rules among `rules` judge by, read once (none without such rules)."""
    return rule_steady.windows(con) if any(r.steady_state for r in rules) else {}


def run_one(con, rule: Rule, values: dict[str, dict], basis: Basis, wins: dict) -> tuple[RuleRun, list[Finding]]:
    """One rule's run record and findings; a RuleError is recorded on the run, not raised."""
    run = RuleRun(
        id=rule.id,
        title=rule.title,
        source=str(rule.path) if not rule.builtin else f"sql/rules/{rule.path.name}",
        params=dict(values[rule.id]),
    )
    try:
        found = _run(con, rule, values[rule.id], basis, wins)
    except RuleError as exc:
        run.error = str(exc)
        found = []
    run.findings = len(found)
    return run, _told_apart(found)


def gather(results: list[tuple[RuleRun, list[Finding]]]) -> tuple[list[Finding], list[RuleRun], list[str]]:
    """`run_one`'s results, in rule order, as (findings, runs, errors)."""
    out = [f for _, found in results for f in found]
    runs = [run for run, _ in results]
    return out, runs, [run.error for run in runs if run.error]


def _told_apart(found: list[Finding]) -> list[Finding]:
    """A rule's findings with the group each covers added to its title where two would read the same (one per
    GPU, process or thread): a report listing "Copy-bound" twice reads as one problem counted twice."""
    if len({f.title for f in found}) == len(found):
        return found
    for f in found:
        if f.device_id is not None:
            f.title = f"{f.title} on GPU {f.device_id}"
        elif f.pid is not None:
            f.title = f"{f.title} in process {f.pid}" + (f", thread {f.tid}" if f.tid is not None else "")
    return found


def _run(con, rule: Rule, values: dict, basis: Basis, wins: dict) -> list[Finding]:
    wins = wins if rule.steady_state else {}
    table = execute(con, rule, values, at_most=rule_evidence.EVIDENCE_IN_MEMORY)
    if table is not None:
        if not wins or table.num_rows == 0:
            return findings(rule, table, values, basis)
        keys = [k for k in rule.group_by if k in table.column_names]
        steady, warm = rule_steady.split(rule_evidence.prepared(table), wins)
        warm_pids = Counter(warm.column("pid").to_pylist() if "pid" in warm.column_names else [None] * warm.num_rows)
        return _steady_findings(
            rule,
            rule_evidence.arrow_groups(steady, keys, MAX_WINDOWS),
            rule_evidence.arrow_groups(warm, keys, MAX_WINDOWS),
            warm_pids,
            rule_steady.timed(table.column_names),
            values,
            basis,
            wins,
        )
    warm_sql = (lambda cols: rule_steady.warm_condition(cols, wins)) if wins else None
    stored = _sql_call(
        rule, lambda: rule_evidence.StoredEvidence(con, rule.sql, _bound(rule, values), rule.group_by, warm_sql)
    )
    try:

        def groups(warm: bool):
            return _sql_call(rule, lambda: stored.groups(warm, MAX_FINDINGS_PER_RULE, MAX_WINDOWS, MAX_EVIDENCE_KEPT))

        if not wins:
            return _findings(rule, groups(False), values, basis)
        return _steady_findings(
            rule,
            groups(False),
            groups(True),
            _sql_call(rule, stored.warm_pids),
            rule_steady.timed(stored.columns),
            values,
            basis,
            wins,
        )
    finally:
        stored.close()


def _steady_findings(rule: Rule, steady, warm, warm_pids: dict, timed: bool, values: dict, basis: Basis, wins):
    """Findings of a steady-state rule: its steady rows as usual (saying how many warm-up rows of the same process
    were set aside), its warm-up rows as demoted notes (analyze/rule_steady.py). `steady` and `warm` are the
    groups of each, `warm_pids` the warm-up rows per pid."""
    out = _findings(rule, steady, values, basis)
    noted: list[Finding] = []
    if warm:
        for f in out:
            left = sum(n for p, n in warm_pids.items() if f.pid is None or p == f.pid)
            if left:
                f.summary = f"{f.summary} {rule_steady.note(f.pid, left, wins)}"
        noted = _findings(rule, warm, values, basis)
        for f in noted:
            rule_steady.demote(f, wins)
            f.title = f"{f.title} (warm-up only)"  # beside the same rule's steady finding, not a repeat of it
    if not timed:
        for f in out:
            if f.pid in wins or (f.pid is None and wins):
                f.summary = f"{f.summary} {rule_steady.untimed_note(f.pid, wins)}"
    return (out + noted)[:MAX_FINDINGS_PER_RULE]
