"""Redaction of captured environment variables and command lines.

nsys stores the profiled process's whole environment (META_DATA_CAPTURE) and bundles store one too; reports are
shared in PRs and CI logs, so secrets must never reach the trace model. Kept free of heavy imports: the recorder
uses it on the GPU box.
"""
from __future__ import annotations

import re

_SECRET_NAME = re.compile(
    r"(TOKEN|SECRET|PASSW(OR)?D|PASSPHRASE|CREDENTIAL|(^|_)KEY($|_)|API_?KEY|ACCESS_?KEY|PRIVATE|AUTH|COOKIE|"
    r"SESSION|SIGNATURE|CONN(ECTION)?_?STR|DSN|WEBHOOK)",
    re.IGNORECASE,
)
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^/:@\s]+):(?P<pw>[^/@\s]+)@", re.I)
_TOKEN_LIKE = re.compile(r"\b(gh[pousr]_[A-Za-z0-9]{20,}|hf_[A-Za-z0-9]{20,}|sk-[A-Za-z0-9_-]{20,}|AKIA[0-9A-Z]{16}|"
                         r"xox[baprs]-[A-Za-z0-9-]{10,}|eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]+)")

REDACTED = "<redacted>"


def redact_value(name: str, value: str) -> str:
    """Return `value` with secrets removed: whole value when the variable name looks secret, otherwise only
    credentials embedded in URLs and well-known token shapes."""
    if _SECRET_NAME.search(name):
        return REDACTED
    return redact_text(value)


def redact_text(text: str) -> str:
    text = _URL_CREDENTIALS.sub(lambda m: f"{m.group('scheme')}{m.group('user')}:{REDACTED}@", text)
    return _TOKEN_LIKE.sub(REDACTED, text)


def redact_env(env: dict[str, str]) -> dict[str, str]:
    return {k: redact_value(k, v) for k, v in env.items()}
