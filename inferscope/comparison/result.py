"""What `compare()` returns: plain data that the renderers and the API read, and the order they rank rows in.

Kept apart from the verdict rules (`verdict`) and the orchestration (`core`) so that whoever holds a Comparison
(`inferscope.render.compare`, the JSON form) needs only the data, not the machinery that computed it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

SCHEMA_VERSION = "1"  # of the JSON form; removing or renaming a field bumps it
GATING_ORDER = ("regression", "inconclusive", "improvement", "within_noise", "unchanged", "added", "removed", "info")


@dataclass
class MetricComparison:
    """One compared quantity. Values are in `unit`; `ratio_low/high` bound new/base at the chosen confidence."""

    id: str
    label: str
    scope: str
    key: str
    device_id: int | None
    unit: str
    polarity: str
    description: str
    base_value: float | None
    new_value: float | None
    delta: float | None
    delta_pct: float | None
    ratio_low: float | None
    ratio_high: float | None
    u_test_p: float | None
    base_samples: int
    new_samples: int
    base_runs: int
    new_runs: int
    share: float | None
    gated: bool
    verdict: str
    reason: str

    @property
    def name(self) -> str:
        """What the row is about, for humans: the kernel or range name, or the metric label."""
        return self.key or self.label


@dataclass
class Side:
    """One side of the comparison: its traces and what they hold (lists are per trace)."""

    traces: list[str]
    formats: list[str]
    gpus: list[str]
    kernels: list[int]
    steps: list[int]
    window_ns: list[int]

    @property
    def runs(self) -> int:
        return len(self.traces)


@dataclass
class Comparison:
    base: Side
    new: Side
    threshold: float
    confidence: float  # family-wise: the chance that noise alone reports a regression is at most 1 - confidence
    metric_confidence: float  # the level of each metric's interval (Bonferroni over `tests`)
    tests: int  # gated metrics with enough data for an interval
    min_share: float
    strip_templates: bool
    metrics: list[MetricComparison]
    notes: list[str] = field(default_factory=list)

    def _gated(self, verdict: str) -> list[MetricComparison]:
        return [m for m in self.metrics if m.gated and m.verdict == verdict]

    @property
    def regressions(self) -> list[MetricComparison]:
        return self._gated("regression")

    @property
    def improvements(self) -> list[MetricComparison]:
        return self._gated("improvement")

    @property
    def inconclusive(self) -> list[MetricComparison]:
        return self._gated("inconclusive")

    @property
    def gated(self) -> list[MetricComparison]:
        return [m for m in self.metrics if m.gated]

    @property
    def verdict(self) -> str:
        """regression | inconclusive (no regression, but some gated metric could not be decided) | pass."""
        if self.regressions:
            return "regression"
        return "inconclusive" if self.inconclusive else "pass"

    def exit_code(self, fail_on_inconclusive: bool = False) -> int:
        """0 no regression, 1 regression beyond the threshold (or inconclusive, when asked to fail on it)."""
        if self.regressions or (fail_on_inconclusive and self.inconclusive):
            return 1
        return 0

    def to_dict(self) -> dict:
        """The JSON form (inferscope/schemas/compare-v1.schema.json)."""
        d = {"schema_version": SCHEMA_VERSION, **asdict(self)}
        d["verdict"] = self.verdict
        d["counts"] = {v: len(self._gated(v)) for v in GATING_ORDER}
        return d


def row_order(m: MetricComparison) -> tuple:
    """Rows that decide the outcome first, worst verdict first, and within a verdict the biggest weighted change."""
    impact = abs(m.delta_pct or 0.0) * (m.share if m.share is not None else 1.0)
    return (not m.gated, GATING_ORDER.index(m.verdict), -impact, m.id, m.key)
