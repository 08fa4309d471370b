"""What a comparison tells its reader besides the rows: the notes, and the refusals when nothing is comparable.

A note says why a number may mislead (formats differ, single run, warm-up steps dropped, requests on one side
only); a refusal (`check_common`) is a CompareError, because a gate that passed on nothing in common would pass
every build.
"""

from __future__ import annotations

import numpy as np

from ..errors import CompareError
from .result import MetricComparison
from .samples import FAMILIES, RunData


def serving_on_both_sides(b_runs: list[RunData], n_runs: list[RunData], notes: list[str]) -> None:
    """The serving gate compares requests with requests: when only one side (or only some traces) has them, its
    request series are left out and a note says why, rather than reading as metrics added or removed."""
    has = {
        role: [any(sid[1] == "request" for sid in r.series) for r in runs]
        for role, runs in (("base", b_runs), ("new", n_runs))
    }
    if all(has["base"] + has["new"]) or not any(has["base"] + has["new"]):
        return
    for r in b_runs + n_runs:
        for sid in [sid for sid in r.series if sid[1] == "request"]:
            del r.series[sid]
    where = " and ".join(f"{sum(h)} of {len(h)} {role} trace(s)" for role, h in has.items())
    notes.append(
        f"requests are joined to {where}: TTFT, inter-token latency and output tokens/s are compared only when "
        "every trace has its request file"
    )


def check_common(rows: list[MetricComparison], base: list[RunData], new: list[RunData]) -> None:
    structural = [r for r in rows if r.id in FAMILIES]
    if any(r.base_runs and r.new_runs for r in structural):
        return

    def holds(runs: list[RunData]) -> str:
        r = runs[0]
        return f"{r.kernels} kernel executions, {r.ranges} ranges, {r.steps} steps"

    empty = [role for role, runs in (("base", base), ("new", new)) if not any(r.kernels or r.ranges for r in runs)]
    if len(empty) == 2:
        raise CompareError("neither side has kernels, ranges or steps to compare")
    if empty:
        raise CompareError(
            f"nothing to compare: the {empty[0]} trace has no kernels, ranges or steps "
            f"(base: {holds(base)}; new: {holds(new)})"
        )
    raise CompareError(
        f"no kernel, range or step in common (base: {holds(base)}; new: {holds(new)}); if names "
        "differ only in template arguments or hashes, add --strip-templates"
    )


def add_notes(
    notes: list[str], rows: list[MetricComparison], base: list[RunData], new: list[RunData], strip: bool
) -> None:
    bf, nf = {r.format for r in base}, {r.format for r in new}
    if bf != nf:
        notes.append(
            f"formats differ ({', '.join(sorted(bf))} vs {', '.join(sorted(nf))}): profilers spell kernel "
            "names differently" + ("" if strip else "; --strip-templates matches more of them")
        )
    if not any(r.steps for r in base) or not any(r.steps for r in new):
        notes.append(
            "no profiler steps (ProfilerStep#N ranges) on both sides: kernels and ranges are compared per "
            "instance, step metrics are left out"
        )
    bw = np.mean([r.window_ns for r in base]) or 0
    nw = np.mean([r.window_ns for r in new]) or 0
    if bw and nw and abs(nw / bw - 1) > 0.1:
        notes.append(
            f"the profiled windows differ in length ({bw / 1e9:.3g} s vs {nw / 1e9:.3g} s); every metric is "
            "per instance or per step, so this alone does not read as a change"
        )
    for verdict, where in (("added", "new"), ("removed", "base")):
        kinds = {}
        for r in rows:
            if r.verdict == verdict and r.id in ("kernel_mean_ns", "range_mean_ns"):
                kinds[r.id] = kinds.get(r.id, 0) + 1
        if kinds:
            parts = [f"{n} {'kernels' if k == 'kernel_mean_ns' else 'ranges'}" for k, n in kinds.items()]
            notes.append(f"{' and '.join(parts)} only in {where}")
    for role, runs in (("base", base), ("new", new)):
        left = [d for r in runs for d in r.warmup]
        if left:
            shown = ", ".join(f"{d / 1e6:.3g} ms" for d in left[:3])
            notes.append(
                f"{role}: {len(left)} warm-up step{'s' if len(left) > 1 else ''} ({shown}; a first step over "
                "3x the median of the others) left out of the per-step metrics"
            )
    if len(base) == 1 or len(new) == 1:
        notes.append(
            "single trace on a side: the noise measured is the spread between steps and instances within "
            "a run; run-to-run variation (clocks, placement, neighbours) needs repeats: --base a1 a2 a3 "
            "--new b1 b2 b3"
        )
    if strip:
        notes.append("names matched with template arguments, parameter lists and hashes stripped")
