"""Every compared quantity as a row with its verdict: which rows gate, and the level each gated test runs at.

The primary metrics gate and the rest only explain them, so the Bonferroni correction counts the gated tests
alone; throughput is step time's reciprocal (the same test), shown as its own row but not counted twice.
"""

from __future__ import annotations

import numpy as np

from . import explain, primary
from .result import MetricComparison
from .sample_summary import mean_of
from .samples import FAMILIES, MetricDef, RunData
from .verdict import MIN_SAMPLES, decide, measure, samples_needed


def _defs(runs: list[RunData]) -> dict[str, MetricDef]:
    defs = dict(FAMILIES)
    for r in runs:
        for k, v in r.defs.items():
            defs.setdefault(k, v)
    return defs


def kernel_shares(runs: list[RunData]) -> dict[str, float]:
    """Each kernel's share of its side's kernel time, averaged over the side's runs."""
    out: dict[str, float] = {}
    for r in runs:
        for sid, share in r.shares.items():
            if sid[0] == "kernel_mean_ns":
                out[sid[2]] = out.get(sid[2], 0.0) + share / len(runs)
    return out


def tokens_moved(b_runs: list[RunData], n_runs: list[RunData], threshold: float) -> bool:
    """True when every trace names its steps' tokens and the mean tokens per step moved beyond the threshold: a
    step is then different work (a bigger batch, longer prompts), and only time per token compares like with
    like."""
    sid = ("tokens_per_step", "step", "", None)
    if not all(sid in r.series for r in b_runs + n_runs):
        return False
    b, n = (float(np.mean([mean_of(r.series[sid]) for r in runs])) for runs in (b_runs, n_runs))
    return b > 0 and abs(n / b - 1.0) > threshold


def measure_rows(b_runs, n_runs, metrics, threshold, confidence, min_share, resamples):
    """Every compared row with its verdict; (rows, per-metric level, gated tests, range per-step totals)."""
    defs = _defs(b_runs + n_runs)
    per_token = not metrics and tokens_moved(b_runs, n_runs, threshold)
    top = primary.top_kernels(kernel_shares(b_runs), min_share)
    ids = sorted({sid for r in b_runs + n_runs for sid in r.series}, key=repr)
    measured = []
    totals: dict[int, tuple] = {}
    b_steps, n_steps = [r.steps for r in b_runs], [r.steps for r in n_runs]
    for sid in ids:
        if metrics and not primary.matches(sid[0], metrics):
            continue
        b = [r.series[sid] for r in b_runs if sid in r.series]
        n = [r.series[sid] for r in n_runs if sid in r.series]
        shares = [r.shares[sid] for r in b_runs if sid in r.shares]
        share = float(np.mean(shares)) if shares else None
        row, est = measure(sid, defs[sid[0]], b, n, share, min_share=min_share, resamples=resamples)
        gates = primary.is_primary(sid, top, metrics) and not (per_token and sid[0] in primary.PER_STEP_WORK)
        row.role = "primary" if gates else "explanation"
        if row.role != "primary":
            row.gated = False
        if sid[0] == "range_mean_ns":
            bt = explain.per_step_total([r.series.get(sid, np.empty(0)) for r in b_runs], b_steps) if b else 0.0
            nt = explain.per_step_total([r.series.get(sid, np.empty(0)) for r in n_runs], n_steps) if n else 0.0
            totals[id(row)] = (bt, nt)
        measured.append((row, est, (b, n)))
        if sid[0] in _RECIPROCALS and row.role == "primary":
            measured.append((_throughput_row(row, *_RECIPROCALS[sid[0]]), primary.throughput(est), (b, n)))
    # Bonferroni over the gated tests (a throughput is its time's reciprocal: the same test, not counted twice):
    # noise alone then fails a build with probability at most 1 - confidence.
    reciprocal = {r[0] for r in _RECIPROCALS.values()}
    tests = sum(1 for row, est, _ in measured if row.gated and est is not None and row.id not in reciprocal)
    level = 1.0 - (1.0 - confidence) / max(tests, 1)
    for row, est, samples in measured:
        if row.verdict == "undecided":
            need = samples_needed(defs[row.id].statistic) if row.id in defs else MIN_SAMPLES
            decide(row, est, samples, threshold=threshold, level=level, min_share=min_share, need=need)
    return [row for row, _, _ in measured], level, tests, totals


# time row -> (throughput id, label, unit, description) of its reciprocal
_RECIPROCALS = {
    "step_time_ns": (primary.THROUGHPUT_ID, "throughput", "steps/s", "steps per second: 1 / mean step time"),
    "step_time_per_token_ns": (
        primary.TOKEN_THROUGHPUT_ID,
        "tokens/s",
        "tokens/s",
        "tokens per second of step time: 1 / step time per token",
    ),
}


def _throughput_row(step: MetricComparison, id: str, label: str, unit: str, description: str) -> MetricComparison:
    """A rate from its time row (1e9 / the time): steps/s from the step time, tokens/s from the time per token."""
    from dataclasses import replace

    def inv(v):
        return 1e9 / v if v else None

    row = replace(
        step,
        id=id,
        label=label,
        unit=unit,
        polarity="higher",
        description=description,
        base_value=inv(step.base_value) if step.base_value is not None else None,
        new_value=inv(step.new_value) if step.new_value is not None else None,
    )
    if row.base_value and row.new_value:
        row.delta = row.new_value - row.base_value
        row.delta_pct = 100.0 * row.delta / row.base_value
    return row
