"""The effective configuration as the commands read it: one value per dotted key, with the layer it came from.

`inferscope config` prints the sources, and the accessors here turn the flat keys into what analysis and compare
take (rule parameters, step and phase patterns, the compare gate), including which configured rule directories
may run: project configuration is someone else's code until the user says otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .schema import COMPARE_DEFAULTS, ENV_PREFIX
from .trust import remember_trust, trust_state


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
    # how the file was chosen: "--config" (named on the command line), INFERSCOPE_CONFIG, or "search" (found
    # upward from the working directory); only the first is the user's own say-so for running its rules
    origin: str | None = None

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
        """Regular expressions naming step ranges, or None for the built-in list (sql/views/step_matches.sql).

        The default row is for display only: passing it on would replace the view's ranked patterns with one
        flat list and change which ranges count as steps."""
        s = self.settings.get("steps.patterns")
        return None if s is None or s.source == "default" else s.value

    @property
    def comm_patterns(self) -> dict[str, list[str]]:
        """{family: [regex, ...]} from the [communication] table: which kernels count as communication, over the
        built-in families of sql/views/comm_kernel_patterns.sql (empty: the built-in table alone)."""
        return {
            k.split(".", 1)[1]: s.value
            for k, s in self.settings.items()
            if k.startswith("communication.") and s.source != "default"
        }

    @property
    def serving_patterns(self) -> list[str]:
        """The [serving] step_patterns: the project's own engine's step naming (empty: the built-in namings)."""
        s = self.settings.get("serving.step_patterns")
        return [] if s is None or s.source == "default" else list(s.value)

    @property
    def phase_patterns(self) -> dict[str, list[str]]:
        """{phase: [regex, ...]} from the [phases] table (empty: the built-in sql/views/phase_ranges.sql)."""
        return {
            k.split(".", 1)[1]: s.value
            for k, s in self.settings.items()
            if k.startswith("phases.") and s.source != "default"
        }

    @property
    def rules_dirs(self) -> list[Path]:
        """Extra rule directories; relative paths are relative to the file that named them."""
        s = self.settings.get("analyze.rules_dirs")
        if s is None:
            return []
        base = self.path.parent if self.path is not None and s.source.startswith("file") else Path.cwd()
        return [(base / d).resolve() for d in s.value]

    def rule_dirs_to_run(self, trust: bool = False) -> tuple[list[Path], list[str]]:
        """(the `rules_dirs` analysis may run, one line per directory skipped saying why and how to allow it).

        Rule files are code. A directory named by a file found by searching upward (a cloned repository, a
        bundle you cd into, any parent folder) or by an environment variable could come from someone else, so
        it runs only when `trust` is set (`--trust-config-rules`), when the file was named with --config, or
        when the user trusted this file with this content before (`remember_trust`)."""
        s = self.settings.get("analyze.rules_dirs")
        if s is None or s.source == "default" or not s.value:
            return [], []
        dirs = self.rules_dirs
        if trust or s.source == "command line" or (s.source.startswith("file") and self.origin == "--config"):
            return dirs, []
        if s.source.startswith("file") and self.path is not None:
            state = trust_state(self.path)
            if state == "trusted":
                return dirs, []
            key = (
                "[tool.inferscope.analyze] rules_dirs" if self.path.name == "pyproject.toml" else "[analyze] rules_dirs"
            )
            how = "found by searching upward" if self.origin == "search" else f"named by {ENV_PREFIX}CONFIG"
            changed = ", which changed since you trusted it" if state == "changed" else ""
            where = f"{self.path} {key} ({how}{changed})"
            allow = "rerun with --trust-config-rules (remembered until the file changes)"
        else:
            where = f"environment variable {s.source.removeprefix('env ')}"
            allow = "rerun with --trust-config-rules"
        return [], [
            f"skipped the rules in {d} named by {where}: project configuration runs no SQL until you allow it; "
            f"{allow} or pass --rules {d}"
            for d in dirs
        ]

    def remember_trust(self) -> str | None:
        """Record that the user trusts the rule directories of this configuration file as it is now (after
        `--trust-config-rules`); returns a warning line when the record cannot be written, else None."""
        s = self.settings.get("analyze.rules_dirs")
        if self.path is None or s is None or not s.source.startswith("file") or not s.value:
            return None
        return remember_trust(self.path)

    @property
    def compare(self) -> dict[str, Any]:
        """The compare gate: threshold, metrics, strip_templates, min_share, confidence, allow_different_gpus,
        fail_on_inconclusive (compare's own defaults when unset)."""
        return {k: self.get(f"compare.{k}", d) for k, d in COMPARE_DEFAULTS.items()}

    def rows(self) -> list[dict]:
        """key, value, source for printing (`inferscope config`)."""
        return [
            {"key": s.key, "value": s.value, "source": s.source}
            for s in sorted(self.settings.values(), key=lambda s: s.key)
        ]
