"""A bundle's clocks: Python samples (CLOCK_MONOTONIC) placed on the nsys session timeline, with an error bound.

The manifest's clock pairs (start and end of the recording) map CLOCK_MONOTONIC to CLOCK_REALTIME (linearly,
absorbing NTP slew between the pairs), and `realtime - utcEpochNs` puts it on the session timeline. Each workload
process also made one short sleep bracketed by two monotonic readings; nsys traced that sleep, so its row bounds
the mapping error from both sides. When such anchors are found the mapping is shifted by their median error
estimate, and trace_meta says so (`clock_alignment.*`).
"""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.compute as pc

SLEEP_CALLS = ("clock_nanosleep", "nanosleep", "select", "pselect", "poll", "usleep")


def align(osrt: pa.Table, regs: list[dict], to_real, utc: int, pairs: list[dict], with_nsys: bool) -> dict:
    """How samples are placed on the timeline, with an error estimate; `_shift_ns` is the correction to apply."""
    drift = 0
    if len(pairs) == 2:
        drift = abs(
            (pairs[1]["realtime_ns"] - pairs[1]["monotonic_ns"]) - (pairs[0]["realtime_ns"] - pairs[0]["monotonic_ns"])
        )
    pair_err = max(p.get("uncertainty_ns", 0) for p in pairs)
    if not with_nsys:
        return {
            "method": "recording clock: CLOCK_MONOTONIC via the start/end clock pairs (no nsys timeline)",
            "error_ns": pair_err + drift,
            "drift_ns": drift,
            "_shift_ns": 0,
        }
    bounds = []
    for reg in regs:
        anchor = reg.get("anchor")
        if isinstance(anchor, dict):
            bounds += _anchor_bounds(osrt, reg["pid"], anchor, to_real, utc)
    base = {"drift_ns": drift, "pair_uncertainty_ns": pair_err}
    prior = pair_err + drift
    if not bounds:
        return {
            **base,
            "method": "utcEpochNs + clock pairs (no OS-runtime anchor found to check it)",
            "error_ns": prior,
            "error_note": "excludes the accuracy of nsys's utcEpochNs (about 10 us measured with nsys 2022.4)",
            "_shift_ns": 0,
        }
    lo, hi = max(b[0] for b in bounds), min(b[1] for b in bounds)
    base["anchor_interval_ns"] = json.dumps([lo, hi])
    if lo > hi:  # anchors disagree with each other: keep the uncorrected mapping and say so
        return {
            **base,
            "method": f"utcEpochNs + clock pairs ({len(bounds)} OS-runtime anchors disagree; not used)",
            "error_ns": prior,
            "_shift_ns": 0,
        }
    # the mapping error e lies in [lo, hi]; correct only as far as needed to bring 0 into that interval
    e = lo if lo > 0 else hi if hi < 0 else 0
    verb = "checked" if e == 0 else "corrected"
    return {
        **base,
        "method": f"utcEpochNs + clock pairs, {verb} by {len(bounds)} OS-runtime sleep anchor(s)",
        "error_ns": max(hi - e, e - lo) + drift,
        "uncorrected_error_bound_ns": max(abs(lo), abs(hi)),
        "correction_ns": -e,
        "_shift_ns": -e,
    }


def _anchor_bounds(osrt: pa.Table, pid: int, anchor: dict, to_real, utc: int) -> list[tuple[int, int]]:
    """Bounds on the mapping error from the agent's bracketed sleeps: each traced sleep ran between its two
    monotonic readings, so mapped(before) - start <= error <= mapped(after) - end."""
    brackets = anchor.get("brackets") or []
    if not brackets:
        return []
    first, last = to_real(brackets[0][0]) - utc, to_real(brackets[-1][1]) - utc
    slack = 5_000_000
    mask = pc.and_(
        pc.and_(pc.equal(osrt["pid"], pid), pc.equal(osrt["tid"], anchor.get("tid"))),
        pc.is_in(osrt["name"], value_set=pa.array(SLEEP_CALLS)),
    )
    rows = sorted(
        (r["start_ns"], r["end_ns"])
        for r in osrt.filter(mask).select(["start_ns", "end_ns"]).to_pylist()
        if first - slack <= r["start_ns"] <= last + slack
    )
    if len(rows) != len(brackets):
        return []
    out = []
    for (m0, m1), (start, end) in zip(brackets, rows):
        e_lo, e_hi = to_real(m0) - utc - start, to_real(m1) - utc - end
        if e_lo <= e_hi:
            out.append((e_lo, e_hi))
    return out
