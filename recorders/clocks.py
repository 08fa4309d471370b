"""Clock pairs: simultaneous readings of CLOCK_REALTIME and CLOCK_MONOTONIC(_RAW).

Samples carry CLOCK_MONOTONIC, which never jumps; nsys anchors its session timeline to UTC
(TARGET_INFO_SESSION_START_TIME.utcEpochNs). A pair taken at the start and one at the end of the recording map
monotonic time to wall time, and the change of (realtime - monotonic) between the two bounds how much NTP
slewed or stepped the wall clock meanwhile.
"""

from __future__ import annotations

import time


def pair(tries: int = 5) -> dict:
    """The tightest of a few (monotonic, realtime, monotonic) brackets: `uncertainty_ns` is half its width."""
    best = None
    for _ in range(tries):
        m0 = time.monotonic_ns()
        real = time.time_ns()
        raw = time.clock_gettime_ns(time.CLOCK_MONOTONIC_RAW)
        m1 = time.monotonic_ns()
        if best is None or m1 - m0 < best[1] - best[0]:
            best = (m0, m1, real, raw)
    m0, m1, real, raw = best
    return {
        "realtime_ns": real,
        "monotonic_ns": (m0 + m1) // 2,
        "monotonic_raw_ns": raw,
        "uncertainty_ns": (m1 - m0 + 1) // 2,
    }


def mono_to_realtime(pairs: list[dict]):
    """A function mapping CLOCK_MONOTONIC ns to CLOCK_REALTIME ns, linear between the first and last pair."""
    first, last = pairs[0], pairs[-1]
    off0 = first["realtime_ns"] - first["monotonic_ns"]
    span = last["monotonic_ns"] - first["monotonic_ns"]
    off1 = last["realtime_ns"] - last["monotonic_ns"]
    if span <= 0 or off1 == off0:
        return lambda m: m + off0
    return lambda m: m + off0 + (off1 - off0) * (m - first["monotonic_ns"]) // span
