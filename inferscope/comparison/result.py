"""What `compare()` returns: plain data that the renderers and the API read, and the order they rank rows in.

Kept apart from the verdict rules (`verdict`) and the orchestration (`core`) so that whoever holds a Comparison
(`inferscope.render.compare`, the JSON form) needs only the data, not the machinery that computed it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

SHARE_UNITS = ("pct", "%")  # 0-100 shares: their threshold and changes are in percentage points

# Of the JSON form. Policy (docs/ci.md): a field added keeps the version; a field removed or renamed, or a verdict
# whose meaning changes, bumps it. `saved.load` reads every version listed in saved.READABLE.
SCHEMA_VERSION = "2"
# primary rows gate and carry these; explanation rows carry worse/better (never gating)
GATING_ORDER = (
    "regression",
    "inconclusive",
    "improvement",
    "within_noise",
    "unchanged",
    "worse",
    "better",
    "added",
    "removed",
    "info",
)
OVERALL = ("not_comparable", "regression", "inconclusive", "improvement", "pass")


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
    # primary: one of the quantities that gate (step time, throughput, GPU time per step, per-call time of the
    # kernels that make up most of the GPU time, or what --metric names); explanation: everything else
    role: str = "explanation"
    # how much of the step-time change this row accounts for, per step (100 = all of it); None when not per step
    explains_pct: float | None = None
    # the change per step, in the row's time unit (ns), that explains_pct is computed from
    per_step_delta: float | None = None

    @property
    def name(self) -> str:
        """What the row is about, for humans: the kernel or range name, or the metric label."""
        return self.key or self.label

    def bad_change(self) -> float:
        """The change in the bad direction of the metric (positive: worse), in % or, for shares, in points."""
        if self.delta is None or self.delta_pct is None:
            return 0.0
        change = self.delta if self.unit in SHARE_UNITS else self.delta_pct
        return change if self.polarity == "lower" else -change if self.polarity == "higher" else 0.0


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
    # what the two sides ran on: [{key, label, base, new, changed}], see `environment`
    environment: list[dict] = field(default_factory=list)
    # the hardware change (GPU model or count) in words, or None; not comparable unless hardware_change_allowed
    hardware_change: str | None = None
    hardware_change_allowed: bool = False
    # what work changed between the sides (kernel mix, launches per step, steps in the window), in words
    work_changes: list[str] = field(default_factory=list)
    # the leading line: the primary change, its interval and label, and what explains it
    summary: str = ""

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
    def undecided(self) -> list[MetricComparison]:
        """Gated rows that may have got worse beyond the threshold but cannot be told apart from it: the ones
        that make the outcome inconclusive (an undecided improvement does not)."""
        return [m for m in self.inconclusive if m.bad_change() > 0]

    @property
    def comparable(self) -> bool:
        return self.hardware_change is None or self.hardware_change_allowed

    @property
    def work_changed(self) -> bool:
        return bool(self.work_changes)

    @property
    def verdict(self) -> str:
        """not_comparable (hardware changed, not declared) | regression | inconclusive (a gated metric may be
        worse beyond the threshold and more data would decide) | improvement (a gated metric improved, none
        regressed) | pass."""
        if not self.comparable:
            return "not_comparable"
        if self.regressions:
            return "regression"
        if self.undecided:
            return "inconclusive"
        return "improvement" if self.improvements else "pass"

    def exit_code(self, fail_on_inconclusive: bool = False) -> int:
        """0 no regression, 1 regression beyond the threshold (or inconclusive, when asked to fail on it),
        2 not comparable (a hardware change that was not declared intended)."""
        if not self.comparable:
            return 2
        if self.regressions or (fail_on_inconclusive and self.undecided):
            return 1
        return 0

    def to_dict(self) -> dict:
        """The JSON form (inferscope/schemas/compare-v2.schema.json)."""
        d = {"schema_version": SCHEMA_VERSION, **asdict(self)}
        d["verdict"] = self.verdict
        d["comparable"] = self.comparable
        d["work_changed"] = self.work_changed
        d["counts"] = {v: len(self._gated(v)) for v in GATING_ORDER}
        return d


_PRIMARY_RANK = {
    "step_time_ns": 0,
    "throughput_steps_per_s": 1,
    "step_kernel_time_ns": 2,
    "step_time_per_token_ns": 2,
    "throughput_tokens_per_s": 2,
    "request_output_tokens_per_s": 3,
    "request_ttft_p50_ns": 4,
    "request_ttft_p99_ns": 5,
    "request_itl_p50_ns": 6,
    "request_itl_p99_ns": 7,
}


def row_order(m: MetricComparison) -> tuple:
    """Primary rows first (worst verdict first, then the biggest weighted change); then the explanation, ranked
    by how much of the step-time change it accounts for, then by weighted change."""
    impact = abs(m.delta_pct or 0.0) * (m.share if m.share is not None else 1.0)
    if m.role == "primary":
        rank = _PRIMARY_RANK.get(m.id, len(_PRIMARY_RANK))
        return (0, GATING_ORDER.index(m.verdict), rank, -impact, m.id, m.key)
    explains = abs(m.explains_pct) if m.explains_pct is not None else -1.0
    moved = m.verdict in ("worse", "better", "added", "removed")
    return (1, not moved, -explains, -impact, m.id, m.key)
