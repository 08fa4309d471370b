"""Bottleneck rules: one SQL file each (sql/rules/, plus user directories), turned into ranked findings.

The work is split by job: rule_files.py finds rule files and parses their headers and parameters, rule_sandbox.py
decides whether a user rule may run, rule_findings.py runs rules and turns rows into findings (the rule contract
is described there), rule_docs.py writes docs/rules.md. This module exists so that callers keep one name to
import (`rules.discover`, `rules.run_all`, ...) and so that `python -m inferscope.analyze.rules` still
regenerates docs/rules.md.
"""

from __future__ import annotations

from pathlib import Path

from .rule_docs import markdown
from .rule_files import REQUIRED, RULE_KEYS, Rule, builtin_dir, discover, load, resolve_params, sql_error
from .rule_findings import (
    MAX_EVIDENCE_KEPT,
    MAX_FINDINGS_PER_RULE,
    MAX_WINDOWS,
    Basis,
    auto_severity,
    execute,
    findings,
    gather,
    run_all,
    run_one,
    warmup_windows,
)
from .rule_sandbox import (
    BINDER_FUNCTIONS,
    DENIED_FUNCTIONS,
    DENIED_PREFIXES,
    SAFE_TABLE_FUNCTIONS,
    check_sandbox,
)

__all__ = [
    "BINDER_FUNCTIONS",
    "DENIED_FUNCTIONS",
    "DENIED_PREFIXES",
    "MAX_EVIDENCE_KEPT",
    "MAX_FINDINGS_PER_RULE",
    "MAX_WINDOWS",
    "REQUIRED",
    "RULE_KEYS",
    "SAFE_TABLE_FUNCTIONS",
    "Basis",
    "Rule",
    "auto_severity",
    "builtin_dir",
    "check_sandbox",
    "discover",
    "execute",
    "findings",
    "gather",
    "load",
    "markdown",
    "resolve_params",
    "run_all",
    "run_one",
    "warmup_windows",
    "sql_error",
]


if __name__ == "__main__":
    Path("docs/rules.md").write_text(markdown(), encoding="utf-8")
