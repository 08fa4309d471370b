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
    [tool.inferscope.serving]           step_patterns = ["^engine_step (?P<kind>prefill|decode)"]
    [tool.inferscope.analyze]           rules_dirs = ["perf/rules"]
    [tool.inferscope.compare]           threshold = "3%"  metrics = ["step_time_ns"]  confidence = 0.9 ...

A misspelt key or a value of the wrong type is an error naming the file (or variable) and key, because a typo
that silently kept the default threshold would make a CI gate meaningless.

Ground floor: imports only `inferscope.errors` and `resources`, so any stage may read the configuration (today
the CLI does). `schema` says which keys exist, `loading` finds and layers the file, `settings` is the result,
`trust` remembers which config files may add rule directories.
"""

from __future__ import annotations

from ..errors import ConfigError
from .loading import FILE_NAMES, find_config, load_config, parse_assignments
from .schema import (
    COMPARE_DEFAULTS,
    ENV_PREFIX,
    PHASE_DEFAULTS,
    SCHEMA,
    SERVING_GROUPS,
    SERVING_KIND_WORDS,
    _toml,  # noqa: F401 - the TOML reader in use (tomllib, or tomli on Python 3.10); tests check the fallback
    default_step_patterns,
    known_rules,
    literal,
    serving_pattern_groups,
)
from .settings import Config, Setting
from .trust import remember_trust, trust_state, trust_store

__all__ = [
    "COMPARE_DEFAULTS",
    "ENV_PREFIX",
    "FILE_NAMES",
    "PHASE_DEFAULTS",
    "SCHEMA",
    "SERVING_GROUPS",
    "SERVING_KIND_WORDS",
    "Config",
    "ConfigError",
    "Setting",
    "default_step_patterns",
    "find_config",
    "known_rules",
    "literal",
    "load_config",
    "parse_assignments",
    "serving_pattern_groups",
    "remember_trust",
    "trust_state",
    "trust_store",
]
