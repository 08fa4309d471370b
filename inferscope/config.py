"""Project configuration: rule parameters, step/phase patterns and the compare gate, kept in a file.

Teams want their thresholds versioned with the code, not repeated on every command line. Values come from four
layers, later ones winning:

1. built-in defaults (rule parameters from the rule files' headers, compare's defaults);
2. a file: `inferscope.toml` (keys at top level) or `[tool.inferscope]` in `pyproject.toml`, the first found
   walking up from the working directory (or the file named by --config / INFERSCOPE_CONFIG);
3. environment variables `INFERSCOPE_<KEY>` with the dotted key's dots written as double underscores
   (INFERSCOPE_RULES__GPU_GAPS__GAP_NS=1000000, INFERSCOPE_COMPARE__THRESHOLD=3%);
4. command-line options (`--param RULE.KEY=VALUE`, `--set KEY=VALUE`).

Keys (docs/configuration.md):

    [tool.inferscope.rules.gpu_gaps]    gap_ns = 20000000         # any rule parameter
    [tool.inferscope.steps]             patterns = ["^decode_step$"]
    [tool.inferscope.phases]            prefill = ["(?i)^prefill"]  decode = ["(?i)^decode"]
    [tool.inferscope.analyze]           rules_dirs = ["perf/rules"]
    [tool.inferscope.compare]           threshold = "3%"  metrics = ["step_time_ns"]  confidence = 0.9 ...

A misspelt key or a value of the wrong type is an error naming the file (or variable) and key, because a typo
that silently kept the default threshold would make a CI gate meaningless.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from .errors import ConfigError
from .resources import sql_dir

try:  # Python 3.11+
    import tomllib as _toml
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as _toml  # type: ignore[no-redef]

ENV_PREFIX = "INFERSCOPE_"
FILE_NAMES = ("inferscope.toml", "pyproject.toml")


# --- value checkers: each returns the normalised value or raises ValueError with what was expected ------------

def _fraction(v: Any) -> Any:
    """A relative threshold as compare takes it: "5%", 5 (percent) is not accepted to avoid 5 vs 0.05 mix-ups."""
    if isinstance(v, bool):
        raise ValueError("expected a percentage such as \"5%\" or a fraction such as 0.05")
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
    raise ValueError("expected a percentage such as \"5%\" or a fraction such as 0.05")


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


def _scalar(v: Any) -> Any:
    if isinstance(v, (bool, int, float, str)):
        return v
    raise ValueError("expected a number, string or true/false")


# section -> key -> checker; "*" matches any key (phases, rules)
SCHEMA: dict[str, dict[str, Callable[[Any], Any]]] = {
    "steps": {"patterns": _regex_list},
    "phases": {"*": _regex_list},
    "analyze": {"rules_dirs": _str_list},
    "compare": {
        "threshold": _fraction, "metrics": _str_list, "strip_templates": _bool, "min_share": _fraction,
        "confidence": _probability, "allow_different_gpus": _bool, "fail_on_inconclusive": _bool,
    },
}
COMPARE_DEFAULTS = {"threshold": "5%", "metrics": [], "strip_templates": False, "min_share": "0.5%",
                    "confidence": 0.95, "allow_different_gpus": False, "fail_on_inconclusive": False}


@dataclass
class Setting:
    key: str
    value: Any
    source: str


@dataclass
class Config:
    """The effective configuration: one Setting per dotted key, with where its value came from."""

    settings: dict[str, Setting] = field(default_factory=dict)
    path: Path | None = None

    def get(self, key: str, default: Any = None) -> Any:
        s = self.settings.get(key)
        return default if s is None else s.value

    def rule_params(self) -> dict[str, dict[str, Any]]:
        """{rule_id: {param: value}} for every rule parameter set above its default (file, env or CLI)."""
        out: dict[str, dict[str, Any]] = {}
        for s in self.settings.values():
            parts = s.key.split(".")
            if parts[0] == "rules" and len(parts) == 3 and s.source != "default":
                out.setdefault(parts[1], {})[parts[2]] = s.value
        return out

    @property
    def step_patterns(self) -> list[str] | None:
        """Regular expressions naming step ranges, or None for the built-in list (sql/views/step_matches.sql)."""
        return self.get("steps.patterns")

    @property
    def phase_patterns(self) -> dict[str, list[str]]:
        """{phase: [regex, ...]} from the [phases] table (empty: the built-in sql/views/phase_ranges.sql)."""
        return {k.split(".", 1)[1]: s.value for k, s in self.settings.items() if k.startswith("phases.")}

    @property
    def rules_dirs(self) -> list[Path]:
        """Extra rule directories; relative paths are relative to the file that named them."""
        s = self.settings.get("analyze.rules_dirs")
        if s is None:
            return []
        base = self.path.parent if self.path is not None and s.source.startswith("file") else Path.cwd()
        return [(base / d).resolve() for d in s.value]

    @property
    def compare(self) -> dict[str, Any]:
        """The compare gate: threshold, metrics, strip_templates, min_share, confidence, allow_different_gpus,
        fail_on_inconclusive (compare's own defaults when unset)."""
        return {k: self.get(f"compare.{k}", d) for k, d in COMPARE_DEFAULTS.items()}

    def rows(self) -> list[dict]:
        """key, value, source for printing (`inferscope config`)."""
        return [{"key": s.key, "value": s.value, "source": s.source} for s in sorted(self.settings.values(),
                                                                                     key=lambda s: s.key)]


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


# --- loading -------------------------------------------------------------------------------------------------

def find_config(start_dir: str | Path | None = None) -> Path | None:
    """The first inferscope.toml, or pyproject.toml with a [tool.inferscope] table, from start_dir upward."""
    d = Path(start_dir or Path.cwd()).resolve()
    for folder in (d, *d.parents):
        candidate = folder / "inferscope.toml"
        if candidate.is_file():
            return candidate
        candidate = folder / "pyproject.toml"
        if candidate.is_file() and "inferscope" in _read_toml(candidate).get("tool", {}):
            return candidate
    return None


def _read_toml(path: Path) -> dict:
    try:
        with path.open("rb") as f:
            return _toml.load(f)
    except _toml.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the configuration file ({exc.strerror})") from None


def _file_table(path: Path) -> tuple[dict, str]:
    data = _read_toml(path)
    if path.name == "pyproject.toml":
        table = data.get("tool", {}).get("inferscope", {})
        return table, "[tool.inferscope]"
    return data, ""


def _flatten(table: dict, where: str) -> list[tuple[str, Any]]:
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
                    raise ConfigError(f"{where}: rules.{key} must be a table of parameters, e.g. "
                                      f"[rules.{key}] with one `name = value` per parameter")
                out += [(f"rules.{key}.{p}", v) for p, v in value.items()]
            else:
                out.append((f"{section}.{key}", value))
    return out


def _check(key: str, value: Any, rules: dict[str, dict[str, Any]], where: str) -> Any:
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
    check = checks.get(name) or checks.get("*")
    if check is None:
        raise ConfigError(f"{where}: unknown key {key!r} ({section} keys: {', '.join(sorted(checks))})")
    try:
        return check(value)
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


def _env_key(name: str) -> str | None:
    if not name.startswith(ENV_PREFIX) or "__" not in name[len(ENV_PREFIX):]:
        return None  # INFERSCOPE_SHARED, INFERSCOPE_ANNOTATIONS, ... are not configuration keys
    return ".".join(p.lower() for p in name[len(ENV_PREFIX):].split("__"))


def parse_assignments(items: list[str], option: str) -> list[tuple[str, str]]:
    """KEY=VALUE strings from the command line."""
    out = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{option} {item!r}: expected KEY=VALUE")
        out.append((key.strip(), value))
    return out


def load_config(start_dir: str | Path | None = None, *, config_file: str | Path | None = None,
                environ: Mapping[str, str] | None = None, params: list[str] = (), sets: list[str] = (),
                rules_dirs: list[str | Path] = (), use_file: bool = True) -> Config:
    """The effective configuration for a command run in `start_dir` (default: the working directory).

    `params` are `--param RULE.KEY=VALUE` strings, `sets` are `--set KEY=VALUE` strings (any dotted key);
    both win over the environment, which wins over the file. `rules_dirs` are extra rule directories given on the
    command line (their rules' parameters are then known too). Raises ConfigError naming the file/variable and
    key.
    """
    env = os.environ if environ is None else environ
    cfg = Config()
    explicit = config_file or env.get(ENV_PREFIX + "CONFIG")
    if explicit:
        cfg.path = Path(explicit).expanduser().resolve()
        if not cfg.path.is_file():
            origin = "--config" if config_file else ENV_PREFIX + "CONFIG"
            raise ConfigError(f"{origin}: no such configuration file {cfg.path}")
    elif use_file:
        cfg.path = find_config(start_dir)
    layers: list[tuple[str, str, list[tuple[str, Any]]]] = []  # (source label, where for errors, items)
    if cfg.path is not None:
        table, section = _file_table(cfg.path)
        label = f"file {cfg.path}" + (f" {section}" if section else "")
        layers.append((label, f"{cfg.path}" + (f" {section}" if section else ""), _flatten(table, f"{cfg.path}")))
    env_items = []
    for name in sorted(env):
        key = _env_key(name)
        if key is not None:
            env_items.append((name, key, literal(env[name])))
    cli_items = [(f"--param {k}", f"rules.{k}", literal(v)) for k, v in parse_assignments(list(params), "--param")]
    cli_items += [(f"--set {k}", k, literal(v)) for k, v in parse_assignments(list(sets), "--set")]
    for _, key, _ in cli_items:
        if key.startswith("rules.") and key.count(".") != 2:
            raise ConfigError(f"--param {key[6:]!r}: expected RULE.KEY=VALUE, e.g. gpu_gaps.gap_ns=1000000")

    dirs_value = None
    for _, _, items in layers:
        dirs_value = dict(items).get("analyze.rules_dirs", dirs_value)
    rules = known_rules(_rules_dirs_for_check(cfg.path, dirs_value) + [Path(d) for d in rules_dirs])

    for rule, defaults in rules.items():
        for param, default in defaults.items():
            cfg.settings[f"rules.{rule}.{param}"] = Setting(f"rules.{rule}.{param}", default, "default")
    for name, default in COMPARE_DEFAULTS.items():
        cfg.settings[f"compare.{name}"] = Setting(f"compare.{name}", default, "default")
    for label, where, items in layers:
        for key, value in items:
            cfg.settings[key] = Setting(key, _check(key, value, rules, where), label)
    for name, key, value in env_items:
        cfg.settings[key] = Setting(key, _check(key, value, rules, f"environment variable {name}"), f"env {name}")
    for option, key, value in cli_items:
        cfg.settings[key] = Setting(key, _check(key, value, rules, option), "command line")
    return cfg


def _rules_dirs_for_check(path: Path | None, dirs: Any) -> list[Path]:
    if not isinstance(dirs, list):
        return []
    base = path.parent if path is not None else Path.cwd()
    return [base / d for d in dirs if isinstance(d, str)]
