"""Redaction of secrets in command lines and environments: the one implementation (inferscope.redact re-exports it).

Command lines and environments end up in the bundle (manifest.json, procs/*.json, the nsys SQLite export) and from
there in trace_meta and every report, which people paste into PRs and CI logs. This module lives in recorders/
because the sampling agent runs inside the workload's own Python, which may lack inferscope's dependencies or
inferscope itself: it must be standard library only and work on Python 3.8.

What counts as a secret (docs/secrets.md):
- an environment variable whose name looks secret (`*_TOKEN`, `*_SECRET`, `*_KEY`, `*PASSWORD*`, ...): whole value;
- a well-known secret option: `--token=abc`, `--token abc`, `--password x`, `--api-key`, `--hf-token`, ... (long
  options only: short ones such as `-p` mean a port as often as a password);
- `NAME=value` inside an argument or a value, with NAME as above (`env MY_API_KEY=x cmd`);
- the password of a URL (`https://user:pass@host` keeps the user), `Authorization: ...` and `Bearer ...` values;
- well-known token shapes (GitHub, Hugging Face, OpenAI, AWS access key ids, Slack, JWTs) wherever they appear.
"""

from __future__ import annotations

import re
from typing import Dict, List, Sequence

REDACTED = "<redacted>"

_SECRET_NAME = re.compile(
    r"(TOKEN(?!IZER)|SECRET|PASSW(OR)?D|PASSPHRASE|CREDENTIAL|(^|_)KEY($|_)|API_?KEY|ACCESS_?KEY|PRIVATE|"
    r"AUTH(?!OR)|COOKIE|SESSION|SIGNATURE|CONN(ECTION)?_?STR|DSN|WEBHOOK)",
    re.IGNORECASE,
)
# option names (lower case, `_` as `-`) whose value is a secret; a longer name counts when it ends with one of these
# after a `-` (`--hf-token`, `--db-password`, `--aws-secret-access-key`), never a mere prefix (`--max-tokens`)
_SECRET_OPTION_WORDS = (
    "token",
    "password",
    "passwd",
    "pass",
    "passphrase",
    "secret",
    "api-key",
    "apikey",
    "access-key",
    "secret-key",
    "private-key",
    "auth",
    "authorization",
    "credential",
    "credentials",
)
_OPTION_NAME = re.compile(r"--?([A-Za-z0-9][A-Za-z0-9_-]*)")
_OPTION_IN_TEXT = re.compile(
    r"(?<![\w-])(?P<opt>--?(?P<name>[A-Za-z0-9][A-Za-z0-9_-]*))(?P<sep>=|[ \t]+)"
    r"(?P<value>\"[^\"]*\"|'[^']*'|(?!-)[^\s\"']\S*|(?<==)-\S*)"
)
_ASSIGNMENT = re.compile(r"(?<![\w-])(?P<name>[A-Za-z_][A-Za-z0-9_]*)=(?P<value>\"[^\"]*\"|'[^']*'|[^\s\"';]*)")
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^/:@\s]*):(?P<pw>[^/@\s]+)@", re.I)
_AUTH_HEADER = re.compile(
    r"(?P<head>\b(?:Proxy-)?Authorization\s*[:=]\s*(?:(?:Bearer|Basic|Token|Digest|Bot)\s+)?)(?P<value>[^\s\"',;]+)",
    re.I,
)
_BEARER = re.compile(r"(?P<head>\bBearer\s+)(?P<value>[A-Za-z0-9._~+/=-]+)")
_TOKEN_LIKE = re.compile(
    r"\b(gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|hf_[A-Za-z0-9]{20,}|sk-[A-Za-z0-9_-]{20,}|"
    r"AKIA[0-9A-Z]{16}|xox[baprs]-[A-Za-z0-9-]{10,}|eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]+)"
)


def secret_name(name: str) -> bool:
    """Whether an environment variable called `name` holds a secret (its whole value is withheld)."""
    return bool(_SECRET_NAME.search(name))


def secret_option(name: str) -> bool:
    """Whether a command-line option (`--name`, with or without dashes) takes a secret value."""
    key = name.lstrip("-").lower().replace("_", "-")
    if not key or key.startswith("no-"):
        return False
    return any(key == w or key.endswith("-" + w) for w in _SECRET_OPTION_WORDS)


def _option_value(m: re.Match) -> str:
    # a value after a space never starts with `-` (the pattern's rule): `--auth --verbose` is a flag and an option
    if not secret_option(m.group("name")):
        return m.group(0)
    return f"{m.group('opt')}{m.group('sep')}{REDACTED}"


def _assignment(m: re.Match) -> str:
    name = m.group("name")
    # upper-case (environment-style) names by the broad rule; lower-case ones (`key=len` in a Python one-liner)
    # only when they are a well-known secret option name (`password=...`, `api_key=...`)
    hidden = secret_option(name) if name != name.upper() else secret_name(name)
    return f"{name}={REDACTED}" if hidden and m.group("value") else m.group(0)


def redact_text(text: str) -> str:
    """`text` with every secret it visibly carries replaced by REDACTED; the rest is left as it was."""
    if not text:
        return text
    text = _URL_CREDENTIALS.sub(lambda m: f"{m.group('scheme')}{m.group('user')}:{REDACTED}@", text)
    text = _AUTH_HEADER.sub(lambda m: m.group("head") + REDACTED, text)
    text = _BEARER.sub(lambda m: m.group("head") + REDACTED, text)
    text = _OPTION_IN_TEXT.sub(_option_value, text)
    text = _ASSIGNMENT.sub(_assignment, text)
    return _TOKEN_LIKE.sub(REDACTED, text)


def redact_value(name: str, value: str) -> str:
    """An environment variable's value: withheld entirely when the name looks secret, else only what it embeds."""
    if secret_name(name):
        return REDACTED
    return redact_text(value)


def redact_env(env: Dict[str, str]) -> Dict[str, str]:
    return {k: redact_value(k, str(v)) for k, v in env.items()}


def redact_assignment(item: str) -> str:
    """One `NAME=value` environment entry (nsys stores them so, sometimes with the value in double quotes)."""
    name, eq, value = item.partition("=")
    if not eq:
        return redact_text(item)
    if secret_name(name):
        quoted = len(value) >= 2 and value[0] == value[-1] == '"'
        return f'{name}="{REDACTED}"' if quoted else f"{name}={REDACTED}"
    return f"{name}={redact_text(value)}"


def redact_env_block(text: str) -> str:
    """A whole environment in one string, as nsys keeps it in TARGET_INFO_SYSTEM_ENV.DeviceEnvironment: entries
    separated by NUL (nsys 2022.x) or `;` (later versions)."""
    sep = "\0" if "\0" in text else ";" if ";" in text else "\n"
    return sep.join(redact_assignment(item) for item in text.split(sep))


def redact_argv(argv: Sequence[str]) -> List[str]:
    """A command line, argument by argument: `--token abc` withholds the argument after a secret option (unless it
    looks like another option), and each argument is passed through redact_text (`--token=abc`, URLs, ...)."""
    out: List[str] = []
    hide_next = False
    for arg in argv:
        arg = str(arg)
        if hide_next and not arg.startswith("-"):
            out.append(REDACTED)
            hide_next = False
            continue
        m = _OPTION_NAME.fullmatch(arg)
        hide_next = bool(m and secret_option(m.group(1)))
        out.append(redact_text(arg))
    return out


def scrub_nsys_sqlite(path: str) -> int:
    """Redact, in place, what an `nsys export --type sqlite` file keeps of the workload's environment and command
    line; returns the number of values changed. Takes about as long as copying the file (VACUUM).

    nsys records both (TARGET_INFO_SYSTEM_ENV.DeviceEnvironment, META_DATA_CAPTURE's PROCESS_n:* rows in newer
    versions) and has no option to stop it short of not inheriting the environment at all (`--inherit-environment
    false`), which would break workloads that need their tokens. The export also holds stale copies of the
    environment in unused page space, so the file is rebuilt (VACUUM) after the update, and secure_delete zeroes
    what the update frees. Raises sqlite3.Error; the caller decides what then.
    """
    import sqlite3

    con = sqlite3.connect(path, isolation_level=None)
    try:
        con.execute("PRAGMA secure_delete = ON")
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        updates: list = []  # (table, column, rowid, new value)

        def text_rows(table: str, columns: str):
            for row in con.execute(f"SELECT rowid, {columns} FROM {table}").fetchall():
                yield row[0], [bytes(v).decode("utf-8", "replace") if isinstance(v, bytes) else v for v in row[1:]]

        if "TARGET_INFO_SYSTEM_ENV" in tables:  # CAST: the environment is NUL-separated and text stops at a NUL
            for rowid, (name, value) in text_rows("TARGET_INFO_SYSTEM_ENV", "name, CAST(value AS BLOB)"):
                if isinstance(value, str):
                    new = redact_env_block(value) if name == "DeviceEnvironment" else redact_text(value)
                    updates.append(("TARGET_INFO_SYSTEM_ENV", "value", rowid, value, new))
        if "META_DATA_CAPTURE" in tables:
            argv: dict = {}  # process prefix -> [(position, rowid, value)]
            for rowid, (name, value) in text_rows("META_DATA_CAPTURE", "name, CAST(value AS BLOB)"):
                if not isinstance(value, str) or not isinstance(name, str):
                    continue
                proc, _, field = name.rpartition(":")
                if field == "COMMAND" or re.fullmatch(r"ARGUMENT_\d+", field):
                    position = -1 if field == "COMMAND" else int(field.split("_")[1])
                    argv.setdefault(proc, []).append((position, rowid, value))
                    continue
                new = redact_assignment(value) if field == "ENVIRONMENT_VARIABLE" else redact_text(value)
                updates.append(("META_DATA_CAPTURE", "value", rowid, value, new))
            for parts in argv.values():
                parts.sort()
                for (_, rowid, value), new in zip(parts, redact_argv([v for _, _, v in parts])):
                    updates.append(("META_DATA_CAPTURE", "value", rowid, value, new))
        # StringIds also holds whole environments of the processes nsys saw (NUL-separated), PROCESSES their names
        for table, column in (("StringIds", "value"), ("PROCESSES", "name")):
            if table in tables:
                for rowid, (value,) in text_rows(table, f"CAST({column} AS BLOB)"):
                    if isinstance(value, str):
                        new = redact_env_block(value) if "\0" in value else redact_text(value)
                        updates.append((table, column, rowid, value, new))
        changed = [u for u in updates if u[3] != u[4]]
        con.execute("BEGIN")
        for table, column, rowid, _, new in changed:
            con.execute(f"UPDATE {table} SET {column} = ? WHERE rowid = ?", (new, rowid))
        con.execute("COMMIT")
        con.execute("VACUUM")  # nsys leaves stale copies of the environment in page slack; rebuild from live rows
        return len(changed)
    finally:
        con.close()
