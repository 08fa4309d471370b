"""Redaction of secrets in captured environments and command lines, for the ingest and report side.

The implementation lives in recorders/redact.py (standard library only) because the recorder and the sampling
agent inside the workload's Python need it too, where inferscope's dependencies may be missing; this module
re-exports it so that there is exactly one set of rules (docs/secrets.md).
"""

from __future__ import annotations

from recorders.redact import (
    REDACTED,
    redact_argv,
    redact_assignment,
    redact_env,
    redact_env_block,
    redact_text,
    redact_value,
    secret_name,
    secret_option,
)

__all__ = [
    "REDACTED",
    "redact_argv",
    "redact_assignment",
    "redact_env",
    "redact_env_block",
    "redact_text",
    "redact_value",
    "secret_name",
    "secret_option",
]
