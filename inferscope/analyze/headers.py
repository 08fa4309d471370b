"""The comment header that opens every metric and rule file, parsed into fields.

One format for both so that a user rule reads like a built-in one:

    -- rule: gpu_gaps
    -- title: GPU idle gaps longer than a threshold
    -- param gap_ns = 500000000: shortest gap reported (ns)
    -- summary: {n} gaps on GPU {device_id} ...
    --   a value continues on lines indented by two or more spaces
    SELECT ...

Parsing is strict (an unknown key is an error naming the file and line) because a typo in a header would
otherwise silently drop a recommendation or a parameter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import RuleError

_KEY = re.compile(r"^([a-z_]+):\s*(.*)$")
_PARAM = re.compile(r"^param\s+([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(\"[^\"]*\"|'[^']*'|[^:\s]+)\s*(?::\s*(.*))?$")
_METRIC = re.compile(r"^metric\s+([a-z][a-z0-9_]*)\s*:\s*(.*)$")


@dataclass
class Param:
    name: str
    default: object
    doc: str
    line: int


@dataclass
class MetricDecl:
    id: str
    unit: str
    polarity: str
    scope: str
    description: str
    line: int


@dataclass
class Header:
    path: Path
    fields: dict[str, str] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)
    params: list[Param] = field(default_factory=list)
    metrics: list[MetricDecl] = field(default_factory=list)
    body: str = ""
    body_line: int = 1

    def where(self, key: str | None = None) -> str:
        return f"{self.path}:{self.lines.get(key, 1) if key else self.body_line}"


def parse_literal(text: str):
    """A parameter value as written in a header or on the command line: int, float, true/false, null or string."""
    t = text.strip()
    if len(t) >= 2 and t[0] == t[-1] and t[0] in "\"'":
        return t[1:-1]
    low = t.lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("null", "none"):
        return None
    try:
        return int(t.replace("_", ""))
    except ValueError:
        pass
    try:
        return float(t)
    except ValueError:
        return t


def parse(path: Path, keys: frozenset[str], text: str | None = None) -> Header:
    text = path.read_text(encoding="utf-8") if text is None else text
    header = Header(path)
    lines = text.splitlines()
    current: tuple | None = None  # ("field", key) | ("param", Param) | ("metric", MetricDecl)
    i = 0
    while i < len(lines):
        raw = lines[i]
        lineno = i + 1
        stripped = raw.strip()
        if not stripped:
            current = None
            i += 1
            continue
        if not stripped.startswith("--"):
            break
        body = stripped[2:]
        if not body.strip():
            current = None
        elif (body.startswith("  ") or body.startswith("\t")) and current is not None:
            _append(header, current, body.strip())
        else:
            content = body[1:] if body.startswith(" ") else body
            current = _start(header, keys, content, lineno)
        i += 1
    header.body = "\n".join(lines[i:])
    header.body_line = i + 1
    return header


def _append(header: Header, current: tuple, text: str) -> None:
    kind, obj = current
    if kind == "field":
        header.fields[obj] = (header.fields[obj] + " " + text).strip()
    elif kind == "param":
        obj.doc = (obj.doc + " " + text).strip()
    else:
        obj.description = (obj.description + " " + text).strip()


def _start(header: Header, keys: frozenset[str], content: str, lineno: int) -> tuple:
    where = f"{header.path}:{lineno}"
    if content.startswith("param ") and "param" in keys:
        m = _PARAM.match(content)
        if not m:
            raise RuleError(
                f"{where}: malformed parameter line (expected '-- param NAME = DEFAULT: what it means'): {content!r}"
            )
        if any(p.name == m.group(1) for p in header.params):
            raise RuleError(f"{where}: parameter {m.group(1)!r} declared twice")
        p = Param(m.group(1), parse_literal(m.group(2)), (m.group(3) or "").strip(), lineno)
        header.params.append(p)
        return ("param", p)
    if content.startswith("metric ") and "metric" in keys:
        m = _METRIC.match(content)
        parts = [s.strip() for s in m.group(2).split(",")] if m else []
        if not m or len(parts) != 3:
            raise RuleError(
                f"{where}: malformed metric line (expected '-- metric ID: UNIT, POLARITY, SCOPE'): {content!r}"
            )
        unit, polarity, scope = parts
        if polarity not in ("lower", "higher", "none"):
            raise RuleError(f"{where}: metric {m.group(1)}: polarity must be lower, higher or none, not {polarity!r}")
        if scope not in ("trace", "device", "step", "phase", "process"):
            raise RuleError(f"{where}: metric {m.group(1)}: unknown scope {scope!r}")
        d = MetricDecl(m.group(1), unit, polarity, scope, "", lineno)
        header.metrics.append(d)
        return ("metric", d)
    m = _KEY.match(content)
    if not m or m.group(1) not in keys - {"param", "metric"}:
        allowed = ", ".join(sorted(keys))
        raise RuleError(
            f"{where}: unexpected header line {content!r} (header lines are '-- KEY: value' with KEY "
            f"one of {allowed}; continue a value on lines indented by two spaces)"
        )
    key = m.group(1)
    if key in header.fields:
        raise RuleError(f"{where}: {key!r} given twice")
    header.fields[key] = m.group(2).strip()
    header.lines[key] = lineno
    return ("field", key)
