"""What explains a primary change, what work changed, and the one line that leads the report.

A reviewer needs "step time -20 % (improved): DataLoader wait per step -61 ms explains 85 %", not 37 rows of
CPU-op means. So every explanation row that is a time per step (a kernel's time per step, a range's summed time
per step, an analysis total per step) gets the share of the step-time change it accounts for, and the rows are
ranked by it. Shares can overlap (nested ranges, a copy inside a CPU op) and can exceed 100 % (a part that moved
more than the whole, offset elsewhere): they rank, they do not add up.

Work changes (a different kernel mix, launches per step, steps in the window) are reported in words; they
explain, and never replace, the verdict on the primary metrics.
"""

from __future__ import annotations

import math

import numpy as np

from .result import MetricComparison
from .sample_summary import sum_of

# kinds of explanation, most telling first: on a tie a kernel, then a range the user named (NVTX, a
# record_function annotation), then an analysis total, then a CPU op
_TIE_POINTS = 5.0


def _priority(r: MetricComparison) -> int:
    if r.id == "kernel_time_per_step_ns":
        return 0
    if r.id == "range_mean_ns":
        return 1 if r.scope in ("nvtx", "user_annotation", "") else 3
    return 2


def per_step_total(runs: list, steps: list[int]) -> float | None:
    """A range's summed time per step: each run's total over its steps, averaged over runs."""
    values = [sum_of(r) / s for r, s in zip(runs, steps) if s]
    return float(np.mean(values)) if values and len(values) == len(runs) else None


def attach(rows: list[MetricComparison], per_step: dict[int, tuple[float | None, float | None]]) -> None:
    """Set per_step_delta and explains_pct on explanation rows, relative to the step-time change.

    `per_step` maps id(row) to (base, new) per-step totals for rows that are not already per step (ranges)."""
    step = next((r for r in rows if r.id == "step_time_ns" and r.delta is not None), None)
    for r in rows:
        if r.role == "primary":
            continue
        if r.id == "range_mean_ns" and id(r) in per_step:
            b, n = per_step[id(r)]
            r.per_step_delta = (n or 0.0) - (b or 0.0) if (b is not None or n is not None) else None
        elif r.delta is not None and (r.id == "kernel_time_per_step_ns" or r.unit == "ns/step"):
            r.per_step_delta = r.delta
        if r.per_step_delta is not None and step is not None and step.delta:
            r.explains_pct = 100.0 * r.per_step_delta / step.delta


def _wraps_step(r: MetricComparison, step: MetricComparison, per_step: dict) -> bool:
    """A range that spans (nearly) the whole step on both sides restates the step time; it explains nothing."""
    if r.id != "range_mean_ns" or id(r) not in per_step:
        return False
    b, n = per_step[id(r)]
    return bool(b and n and b >= 0.9 * step.base_value and n >= 0.9 * step.new_value)


def top_explanation(rows: list[MetricComparison], per_step: dict) -> MetricComparison | None:
    """The row that accounts for most of the step-time change, in its direction (capped at 100 %, ties within
    a few points going to the more specific kind: a kernel, then an analysis total, then a CPU range)."""
    step = next((r for r in rows if r.id == "step_time_ns" and r.delta), None)
    if step is None:
        return None
    candidates = [
        r
        for r in rows
        if r.role != "primary"
        and r.explains_pct is not None
        and r.explains_pct > 0
        and r.verdict in ("worse", "better", "added", "removed")
        and not _wraps_step(r, step, per_step)
    ]
    if not candidates:
        return None
    best = max(min(r.explains_pct, 100.0) for r in candidates)
    close = [r for r in candidates if min(r.explains_pct, 100.0) >= best - _TIE_POINTS]
    return min(close, key=lambda r: (_priority(r), abs(r.explains_pct - 100.0)))


def fmt_ns(value: float) -> str:
    """A signed time: -61 ms, +3.2 µs."""
    sign = "-" if value < 0 else "+"
    v = abs(value)
    for scale, unit in ((1e9, "s"), (1e6, "ms"), (1e3, "µs")):
        if v >= scale:
            return f"{sign}{v / scale:.3g} {unit}"
    return f"{sign}{v:.0f} ns"


def _bound(x: float) -> str:
    return f"{x:+.0f}" if abs(x) >= 10 else f"{x:+.1f}"


WORD = {
    "regression": "regression",
    "improvement": "improved",
    "unchanged": "unchanged",
    "inconclusive": "inconclusive",
    "added": "added",
    "removed": "removed",
}


def what(r: MetricComparison, label: bool = True) -> str:
    from .names import display_name

    if not r.key:
        return r.label
    scope = f"{r.scope} " if r.id == "range_mean_ns" and r.scope not in ("nvtx", "") else ""
    name = display_name(r.key)
    name = name if len(name) <= 80 else name[:79] + "…"
    return f"{r.label} of {scope}{name}" if r.role == "primary" and label else f"{scope}{name}"


def row_line(r: MetricComparison) -> str:
    """'step time -20.3 % [-22, -18] (improved)': the change, its interval in %, and the verdict."""
    text = what(r)
    if r.delta_pct is not None and math.isfinite(r.delta_pct):
        text += f" {r.delta_pct:+.1f} %"
        if r.ratio_low is not None and not math.isnan(r.ratio_low):
            text += f" [{_bound(100 * (r.ratio_low - 1))}, {_bound(100 * (r.ratio_high - 1))}]"
    return f"{text} ({WORD.get(r.verdict, r.verdict)})"


def summary(rows: list[MetricComparison], per_step: dict, work: list[str]) -> str:
    """The leading line: the deciding primary row (a regression first, else output tokens/s or TTFT when requests
    are compared, else the step time, else GPU time per step, else the first primary row), what explains it, and
    whether the work changed."""
    primary = [r for r in rows if r.role == "primary" and r.gated]
    lead = next((r for r in primary if r.verdict == "regression" and r.id == "step_time_ns"), None)
    lead = lead or next((r for r in primary if r.verdict == "regression"), None)
    # serving runs are judged by what their users see first; other runs by their step
    metrics = ("request_output_tokens_per_s", "request_ttft_p50_ns", "step_time_ns", "step_time_per_token_ns")
    for metric in (*metrics, "step_kernel_time_ns"):
        lead = lead or next((r for r in primary if r.id == metric and r.delta is not None), None)
    lead = lead or next((r for r in primary if r.delta is not None), None)
    if lead is None:
        return "nothing gated in common" + (f"; work changed: {work[0]}" if work else "")
    text = row_line(lead)
    if lead.verdict == "inconclusive":  # say what would decide it, inside the verdict's parentheses
        hint = lead.reason.rsplit(": ", 1)[-1] if "would decide" in lead.reason else ""
        hint = hint or ("need " + lead.reason.split("need ", 1)[1] if "need " in lead.reason else "")
        text = text[:-1] + f"; {hint})" if hint else text
    moved = lead.verdict in ("regression", "improvement", "inconclusive")
    top = top_explanation(rows, per_step) if lead.id == "step_time_ns" and moved else None
    if top is not None:
        per = "" if what(top).endswith("per step") else " per step"
        text += f": {what(top)}{per} {fmt_ns(top.per_step_delta)} explains {top.explains_pct:.0f} %"
    if lead.id == "step_time_ns" and moved:
        text += gpu_activity(rows)
    others = [r for r in primary if r is not lead and r.verdict == "regression" and not r.id.startswith("throughput_")]
    if others:  # name the worst of them: a slower kernel behind a slower GPU time per step is the finding
        worst = max(others, key=lambda r: (r.id == "kernel_mean_ns", abs(r.delta_pct or 0.0)))
        text += f"; {len(others)} more regression{'s' if len(others) > 1 else ''}: {row_line(worst)}"
    if work:
        text += f"; work changed ({len(work)})"
    return text


def gpu_activity(rows: list[MetricComparison]) -> str:
    """'; GPU counters per step: SMs Active 96 % -> 71 %, Tensor Active 94 % -> 52 %' when both sides were recorded
    with GPU metrics: a step that got slower while the SMs and Tensor Cores did less per second did the same work
    worse (stalls, idle Tensor Cores, a lower clock), one at the same activity did more work. Empty otherwise."""
    parts = []
    for metric, label in (("step_sm_active_pct", "SMs Active"), ("step_tensor_active_pct", "Tensor Active")):
        r = next((r for r in rows if r.id == metric), None)
        if r is not None and r.base_value is not None and r.new_value is not None:
            parts.append(f"{label} {r.base_value:.0f} % -> {r.new_value:.0f} %")
    return f"; GPU counters per step: {', '.join(parts)}" if parts else ""


def _calls(shapes: list[dict]) -> dict[str, dict[str, int]]:
    """Each op's calls per input dims, summed over a side's runs."""
    calls: dict[str, dict[str, int]] = {}
    for run in shapes:
        for op, dims in run.items():
            for d, n in dims.items():
                calls.setdefault(op, {})[d] = calls.setdefault(op, {}).get(d, 0) + n
    return calls


def shape_changes(base: list[dict], new: list[dict]) -> str | None:
    """The ops (on both sides, with recorded shapes) that share no input shape between the sides: a different
    batch or sequence shape is different work, not a slowdown. Ops that keep one shape in common are left out:
    a side may simply not record some calls (CUDA-graph replays record no CPU ops, only the capture's shapes
    remain)."""
    b, n = _calls(base), _calls(new)
    changed = sorted(op for op in b.keys() & n.keys() if not b[op].keys() & n[op].keys())
    if not changed:
        return None
    changed.sort(key=lambda op: (not op.startswith("aten::"), op))

    def top(dims: dict[str, int]) -> str:
        return max(dims, key=lambda d: (dims[d], d))

    shown = ", ".join(f"{op} {top(b[op])} -> {top(n[op])}" for op in changed[:2])
    return f"input shapes changed for {len(changed)} op{'s' if len(changed) > 1 else ''}: {shown}" + (
        " …" if len(changed) > 2 else ""
    )


def work_changes(
    rows: list[MetricComparison],
    base_steps: list[int],
    new_steps: list[int],
    threshold: float,
    new_shares: dict[str, float],
    min_share: float,
    shapes: tuple[list[dict], list[dict]] = ([], []),
) -> list[str]:
    """What the two sides did differently, in words (see the module docstring)."""
    out = []
    shaped = shape_changes(*shapes)
    if shaped:
        out.append(shaped)
    bs, ns = np.mean(base_steps) if base_steps else 0, np.mean(new_steps) if new_steps else 0
    if bs and ns and bs != ns:
        out.append(f"steps in the window {bs:g} -> {ns:g} (every gated metric is per step or per call)")
    removed = [r for r in rows if r.id == "kernel_mean_ns" and r.verdict == "removed" and (r.share or 0) >= min_share]
    added = [
        r for r in rows if r.id == "kernel_mean_ns" and r.verdict == "added" and new_shares.get(r.key, 0) >= min_share
    ]
    for kind, items, share_of in (
        ("only in new", added, lambda r: new_shares.get(r.key, 0)),
        ("only in base", removed, lambda r: r.share or 0),
    ):
        if items:
            items = sorted(items, key=lambda r: -share_of(r))
            total = sum(share_of(r) for r in items)
            out.append(
                f"kernel mix: {len(items)} kernel{'s' if len(items) > 1 else ''} {kind} ({total:.0%} of that "
                f"side's GPU time), e.g. {what(items[0], label=False)}"
            )
    tokens = next((r for r in rows if r.id == "tokens_per_step" and r.base_value and r.new_value is not None), None)
    if tokens is not None and abs(tokens.new_value / tokens.base_value - 1) > threshold:
        out.append(
            f"tokens per step {tokens.base_value:,.4g} -> {tokens.new_value:,.4g} (prompt + generated, from the step "
            "annotations; step time per token is the figure that gates)"
        )
    calls = [
        r for r in rows if r.id == "kernel_calls_per_step" and r.base_value is not None and r.new_value is not None
    ]
    bt, nt = sum(r.base_value for r in calls), sum(r.new_value for r in calls)
    if bt and abs(nt / bt - 1) > threshold:
        out.append(f"kernel launches per step {bt:,.4g} -> {nt:,.4g}")
    moved = [
        r
        for r in calls
        if r.base_value and abs(r.new_value / r.base_value - 1) > threshold and (r.share or 0) >= min_share
    ]
    if moved:
        moved.sort(key=lambda r: -(r.share or 0))
        shown = ", ".join(f"{what(r)} {r.base_value:.3g} -> {r.new_value:.3g}" for r in moved[:3])
        out.append(
            f"launches per step changed for {len(moved)} kernel{'s' if len(moved) > 1 else ''}: {shown}"
            + (" …" if len(moved) > 3 else "")
        )
    return out
