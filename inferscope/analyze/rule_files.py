"""Rule files: finding them (sql/rules, then user directories), reading their headers into `Rule`s, and resolving
their parameters (header defaults, then per-run overrides).

Parameters are DuckDB named parameters (`$gap_ns`) with defaults in the header, overridable per run. Everything
here fails with a `FILE:LINE:` message, so that a user can fix the rule they wrote; the sandbox and the runner
point into the rule file the same way (`sql_error`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .result import SEVERITIES
from ..errors import QueryError, RuleError
from ..resources import sql_dir
from . import headers

RULE_KEYS = frozenset(
    {
        "rule",
        "title",
        "severity",
        "group_by",
        "summary",
        "recommendation",
        "why",
        "impact",
        "parity",
        "param",
        "steady_state",
    }
)
REQUIRED = ("rule", "title", "severity", "summary", "recommendation")
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
    # `-- steady_state: true`: the advice holds for a steady loop, so evidence inside a process's warm-up window is
    # set aside (analyze/rule_steady.py)
    steady_state: bool = False

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
    steady = h.fields.get("steady_state", "false").strip().lower()
    if steady not in ("true", "false"):
        raise RuleError(f"{h.where('steady_state')}: steady_state must be true or false, not {steady!r}")
    return Rule(
        id=rid,
        title=h.fields["title"],
        severity=sev,
        group_by=group_by,
        summary=h.fields["summary"],
        recommendation=h.fields["recommendation"],
        why=h.fields.get("why", ""),
        impact_doc=h.fields.get("impact", ""),
        parity=h.fields.get("parity", ""),
        params={p.name: p for p in h.params},
        sql=h.body,
        header=h,
        builtin=builtin,
        steady_state=steady == "true",
    )


def discover(extra_dirs=(), builtin_extra=()) -> tuple[list[Rule], list[str]]:
    """Built-in rules (sql/rules, then `builtin_extra`: our own rule folders that run only on some traces, such as
    sql/serving with a request file), then each user directory's *.sql; malformed files become error strings, not
    exceptions."""
    rules: list[Rule] = []
    errors: list[str] = []
    seen: dict[str, Path] = {}
    sources = [(builtin_dir(), True)] + [(Path(d), True) for d in builtin_extra]
    sources += [(Path(d).expanduser(), False) for d in extra_dirs]
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


def sql_error(rule: Rule, exc: Exception) -> str:
    """A DuckDB error as one `FILE:LINE: rule ID: message` line, the line counted in the rule file, so that its
    author can go straight to it."""
    text = str(exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    line = rule.header.body_line
    m = re.search(r"LINE (\d+):", text)
    if m:
        line += int(m.group(1)) - 1
    else:  # binder errors (and older DuckDB's parser errors) carry no position: the first line naming the token
        name = re.search(r'(?:name|column|function|at or near) "?([A-Za-z_][A-Za-z0-9_.]*)"?', first)
        if name:
            for i, code in enumerate(rule.sql.splitlines()):
                if re.search(rf"\b{re.escape(name.group(1))}\b", code.split("--", 1)[0]):
                    line += i
                    break
    return f"{rule.path}:{line}: rule {rule.id}: {first}"
