"""Which keys a configuration may set and what each accepts, so a misspelt key or a wrong-typed value fails loudly.

A typo that silently kept the default threshold would make a CI gate meaningless. Sections and their checkers are
fixed here; rule parameters are whatever the rule files' headers declare (built-in sql/rules/*.sql and any extra
rule directories), and a parameter keeps its default's type. The built-in defaults shown by `inferscope config`
are read from the same SQL the analysis runs, so the two cannot drift.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable

from ..errors import ConfigError
from ..resources import sql_dir

try:  # Python 3.11+
    import tomllib as _toml
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as _toml  # type: ignore[no-redef]

ENV_PREFIX = "INFERSCOPE_"  # INFERSCOPE_CONFIG, and INFERSCOPE_<KEY> with dots written as double underscores


# --- value checkers: each returns the normalised value or raises ValueError with what was expected ------------


def _fraction(v: Any) -> Any:
    """A relative threshold as compare takes it: "5%", 5 (percent) is not accepted to avoid 5 vs 0.05 mix-ups."""
    if isinstance(v, bool):
        raise ValueError('expected a percentage such as "5%" or a fraction such as 0.05')
    if isinstance(v, (int, float)) and 0 <= v < 1:
        return v
    if isinstance(v, str):
        text = v.strip()
        try:
            x = float(text[:-1]) / 100 if text.endswith("%") else float(text)
        except ValueError:
            x = -1.0
        if 0 <= x < 1:
            return text
    raise ValueError('expected a percentage such as "5%" or a fraction such as 0.05')


def _probability(v: Any) -> float:
    if isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v < 1:
        return float(v)
    raise ValueError("expected a number between 0 and 1, e.g. 0.95")


def _bool(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    raise ValueError("expected true or false")


def _str_list(v: Any) -> list[str]:
    if isinstance(v, str):
        v = [v]
    if isinstance(v, list) and all(isinstance(x, str) for x in v):
        return list(v)
    raise ValueError("expected a list of strings")


def _regex_list(v: Any) -> list[str]:
    items = _str_list(v)
    for p in items:
        try:
            re.compile(p)
        except re.error as exc:
            raise ValueError(f"{p!r} is not a regular expression ({exc})") from None
    return items


# The named groups a [serving] step pattern may use, and the serving_step_names field each fills.
SERVING_GROUPS = {
    "prefill_requests": "n",
    "prefill_tokens": "t",
    "decode_requests": "m",
    "decode_tokens": "g",
    "kind": "mode",
}
# What a `kind` group may capture (case-insensitive), as the kind serving_steps gives the step.
SERVING_KIND_WORDS = {
    "prefill": "prefill",
    "context": "prefill",
    "ctx": "prefill",
    "extend": "prefill",
    "decode": "decode",
    "generation": "decode",
    "gen": "decode",
    "generate": "decode",
    "mixed": "mixed",
    "idle": "idle",
}


def serving_pattern_groups(pattern: Any) -> dict[str, int]:
    """{group name: group number} of one serving-step pattern, or ValueError saying what is wrong with it.

    A step's kind must be readable from every match, so the pattern names a `kind` group or both request counts;
    a misspelt group name would otherwise leave a count silently empty."""
    if not isinstance(pattern, str) or not pattern:
        raise ValueError("expected a regular expression (text)")
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"{pattern!r} is not a regular expression ({exc})") from None
    groups = dict(compiled.groupindex)
    unknown = sorted(set(groups) - set(SERVING_GROUPS))
    if unknown:
        raise ValueError(f"{pattern!r}: unknown group name {', '.join(unknown)} (known: {', '.join(SERVING_GROUPS)})")
    if "kind" not in groups and not {"prefill_requests", "decode_requests"} <= set(groups):
        raise ValueError(
            f"{pattern!r} names neither a (?P<kind>...) group nor both (?P<prefill_requests>...) and "
            "(?P<decode_requests>...), so a step's kind could not be read from it"
        )
    return groups


def _serving_patterns(v: Any) -> list[str]:
    items = _str_list(v)
    for p in items:
        serving_pattern_groups(p)
    return items


def _scalar(v: Any) -> Any:
    if isinstance(v, (bool, int, float, str)):
        return v
    raise ValueError("expected a number, string or true/false")


# section -> key -> checker; "*" matches any key (phases, rules)
SCHEMA: dict[str, dict[str, Callable[[Any], Any]]] = {
    "steps": {"patterns": _regex_list},
    "phases": {"*": _regex_list},
    # communication kernel families: FAMILY = [regex, ...] replaces that family's patterns in
    # sql/views/comm_kernel_patterns.sql (an empty list drops the family); a new name adds one
    "communication": {"*": _regex_list},
    # a serving engine's own step naming, beside the built-in vLLM / TensorRT-LLM / SGLang ones (docs/serving.md):
    # regexes with named groups prefill_requests, prefill_tokens, decode_requests, decode_tokens, kind
    "serving": {"step_patterns": _serving_patterns},
    "analyze": {"rules_dirs": _str_list},
    "compare": {
        "threshold": _fraction,
        "metrics": _str_list,
        "strip_templates": _bool,
        "min_share": _fraction,
        "confidence": _probability,
        "allow_different_gpus": _bool,
        "fail_on_inconclusive": _bool,
    },
}
COMPARE_DEFAULTS = {
    "threshold": "5%",
    "metrics": [],
    "strip_templates": False,
    "min_share": "0.5%",
    "confidence": 0.95,
    "allow_different_gpus": False,
    "fail_on_inconclusive": False,
}
# What sql/views/phase_ranges.sql matches, written per phase so `inferscope config` can show it (analysis still
# runs the view itself when no layer sets a phase).
PHASE_DEFAULTS = {
    "prefill": ["(?i)^(prefill|context[ _]phase)([ _#:.-].*)?$"],
    "decode": ["(?i)^(decode|decoding)([ _#:.-].*)?$"],
}
_STEP_VIEW_PATTERN = re.compile(r"regexp_matches\(name, '((?:[^']|'')*)'\) THEN [0-9]+")


def default_step_patterns() -> list[str]:
    """The built-in step patterns, best first, read from sql/views/step_matches.sql (the view analysis runs) so
    that what `inferscope config` shows cannot drift from what is matched."""
    text = (sql_dir() / "views" / "step_matches.sql").read_text(encoding="utf-8")
    return [m.group(1).replace("''", "'") for m in _STEP_VIEW_PATTERN.finditer(text)]


# --- rule parameters known from the rule files --------------------------------------------------------------

_RULE_LINE = re.compile(r"^--\s*rule:\s*([A-Za-z0-9_]+)\s*$")
_PARAM_LINE = re.compile(r"^--\s*param\s+([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(\"[^\"]*\"|'[^']*'|[^:\s]+)")


def literal(text: str) -> Any:
    """A value typed on a command line or in an environment variable: TOML syntax when it parses
    (3, 0.5, true, "x", ["a", "b"]), otherwise the text itself."""
    t = text.strip()
    try:
        return _toml.loads(f"v = {t}")["v"]
    except _toml.TOMLDecodeError:
        pass
    try:
        return int(t.replace("_", ""))
    except ValueError:
        return t


def known_rules(extra_dirs: list[Path] = ()) -> dict[str, dict[str, Any]]:
    """{rule_id: {param: default}} from the headers of sql/rules/*.sql and `extra_dirs` (empty when there are
    no rule files, in which case rule keys are accepted unchecked)."""
    out: dict[str, dict[str, Any]] = {}
    for d in [sql_dir() / "rules", *extra_dirs]:
        for f in sorted(Path(d).glob("*.sql")) if Path(d).is_dir() else []:
            rule, params = None, {}
            for line in f.read_text(encoding="utf-8").splitlines():
                if not line.startswith("--"):
                    break
                m = _RULE_LINE.match(line)
                if m:
                    rule = m.group(1)
                m = _PARAM_LINE.match(line)
                if m:
                    raw = m.group(2)
                    params[m.group(1)] = raw[1:-1] if raw[:1] in "\"'" else literal(raw)
            if rule:
                out[rule] = params
    return out


# --- checking keys and values ------------------------------------------------------------------------------


def flatten(table: dict, where: str) -> list[tuple[str, Any]]:
    """Nested tables -> (dotted key, value) at the depth the schema expects (rules are two levels deep)."""
    out = []
    for section, body in table.items():
        if section not in SCHEMA and section != "rules":
            raise ConfigError(f"{where}: unknown key {section!r} (known: {', '.join(sorted([*SCHEMA, 'rules']))})")
        if not isinstance(body, dict):
            raise ConfigError(f"{where}: {section!r} must be a table, e.g. [{section}]")
        for key, value in body.items():
            if section == "rules":
                if not isinstance(value, dict):
                    raise ConfigError(
                        f"{where}: rules.{key} must be a table of parameters, e.g. "
                        f"[rules.{key}] with one `name = value` per parameter"
                    )
                out += [(f"rules.{key}.{p}", v) for p, v in value.items()]
            else:
                out.append((f"{section}.{key}", value))
    return out


def check(key: str, value: Any, rules: dict[str, dict[str, Any]], where: str) -> Any:
    """The value of one dotted key as the commands use it, or a ConfigError naming `where` and the key."""
    parts = key.split(".")
    if parts[0] == "rules":
        if len(parts) != 3:
            raise ConfigError(f"{where}: key {key!r}: rule parameters are rules.RULE.PARAM")
        rule, param = parts[1], parts[2]
        if rules and rule not in rules:
            raise ConfigError(f"{where}: key {key!r}: unknown rule {rule!r} (rules: {', '.join(sorted(rules))})")
        defaults = rules.get(rule)
        if defaults is not None and param not in defaults:
            known = ", ".join(sorted(defaults)) or "none"
            raise ConfigError(f"{where}: key {key!r}: rule {rule!r} has no parameter {param!r} (parameters: {known})")
        try:
            value = _scalar(value)
        except ValueError as exc:
            raise ConfigError(f"{where}: key {key!r}: {exc}") from None
        if defaults is not None and param in defaults:
            value = _match_type(key, value, defaults[param], where)
        return value
    section, _, name = key.partition(".")
    checks = SCHEMA.get(section)
    if checks is None or not name or "." in name:
        raise ConfigError(f"{where}: unknown key {key!r}")
    checker = checks.get(name) or checks.get("*")
    if checker is None:
        raise ConfigError(f"{where}: unknown key {key!r} ({section} keys: {', '.join(sorted(checks))})")
    try:
        return checker(value)
    except ValueError as exc:
        raise ConfigError(f"{where}: key {key!r}: {exc}") from None


def _match_type(key: str, value: Any, default: Any, where: str) -> Any:
    """A rule parameter keeps its default's type (an int default accepts only whole numbers)."""
    if default is None or isinstance(default, str):
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
    kind = {bool: "true or false", int: "a whole number", float: "a number"}[type(default)]
    raise ConfigError(f"{where}: key {key!r}: expected {kind} (default {default!r}), got {value!r}")
