"""Finding the configuration file and layering defaults, file, environment and command line into one Config.

Later layers win (the package docstring lists them); every value passes the schema's check on the way in, with
errors naming the file, variable or option it came from.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

from ..errors import ConfigError
from .schema import (
    COMPARE_DEFAULTS,
    ENV_PREFIX,
    PHASE_DEFAULTS,
    check,
    flatten,
    _toml,
    default_step_patterns,
    known_rules,
    literal,
)
from .settings import Config, Setting

FILE_NAMES = ("inferscope.toml", "pyproject.toml")


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


def _env_key(name: str) -> str | None:
    if not name.startswith(ENV_PREFIX) or "__" not in name[len(ENV_PREFIX) :]:
        return None  # INFERSCOPE_SHARED, INFERSCOPE_ANNOTATIONS, ... are not configuration keys
    return ".".join(p.lower() for p in name[len(ENV_PREFIX) :].split("__"))


def parse_assignments(items: list[str], option: str) -> list[tuple[str, str]]:
    """KEY=VALUE strings from the command line."""
    out = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{option} {item!r}: expected KEY=VALUE")
        out.append((key.strip(), value))
    return out


def load_config(
    start_dir: str | Path | None = None,
    *,
    config_file: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
    params: list[str] = (),
    sets: list[str] = (),
    rules_dirs: list[str | Path] = (),
    use_file: bool = True,
) -> Config:
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
        cfg.origin = "--config" if config_file else ENV_PREFIX + "CONFIG"
        if not cfg.path.is_file():
            origin = "--config" if config_file else ENV_PREFIX + "CONFIG"
            raise ConfigError(f"{origin}: no such configuration file {cfg.path}")
    elif use_file:
        cfg.path = find_config(start_dir)
        cfg.origin = "search" if cfg.path is not None else None
    layers: list[tuple[str, str, list[tuple[str, Any]]]] = []  # (source label, where for errors, items)
    if cfg.path is not None:
        table, section = _file_table(cfg.path)
        label = f"file {cfg.path}" + (f" {section}" if section else "")
        layers.append((label, f"{cfg.path}" + (f" {section}" if section else ""), flatten(table, f"{cfg.path}")))
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
    cfg.settings["steps.patterns"] = Setting("steps.patterns", default_step_patterns(), "default")
    for name, default in PHASE_DEFAULTS.items():
        cfg.settings[f"phases.{name}"] = Setting(f"phases.{name}", list(default), "default")
    cfg.settings["analyze.rules_dirs"] = Setting("analyze.rules_dirs", [], "default")
    for label, where, items in layers:
        for key, value in items:
            cfg.settings[key] = Setting(key, check(key, value, rules, where), label)
    for name, key, value in env_items:
        cfg.settings[key] = Setting(key, check(key, value, rules, f"environment variable {name}"), f"env {name}")
    for option, key, value in cli_items:
        cfg.settings[key] = Setting(key, check(key, value, rules, option), "command line")
    if any(k.startswith("phases.") and s.source != "default" for k, s in cfg.settings.items()):
        # any phase set replaces the built-in prefill/decode matching as a whole, so its rows would mislead
        for name in PHASE_DEFAULTS:
            if cfg.settings[f"phases.{name}"].source == "default":
                del cfg.settings[f"phases.{name}"]
    return cfg


def _rules_dirs_for_check(path: Path | None, dirs: Any) -> list[Path]:
    if not isinstance(dirs, list):
        return []
    base = path.parent if path is not None else Path.cwd()
    return [base / d for d in dirs if isinstance(d, str)]
