"""Workload for the recorder tests: a CPU-bound Python function, then a sleep whose start time it writes down.

argv[1]: JSON file to write {real_ns, mono_ns, pid, tid, spin_start_mono_ns, spin_end_mono_ns, sleeps}: the
first sleep is 0.2 s with CLOCK_REALTIME/CLOCK_MONOTONIC read right before it (real_ns, mono_ns); `sleeps` lists
[mono before, mono after, seconds] for it and four more 50 ms sleeps, so a test can pick one the scheduler did
not interrupt between the reading and the call.
It first idles for a second: nsys 2022.4 can hang when the application exits before its session finished
starting, which takes long on a loaded machine.
"""

import json
import os
import sys
import threading
import time


def tokenize_batch(n):
    total = 0
    for i in range(n):
        total += len(str(i * i))
    return total


def main():
    time.sleep(1.0)
    spin_start = time.monotonic_ns()
    end = time.monotonic() + 0.4
    while time.monotonic() < end:
        tokenize_batch(2000)
    spin_end = time.monotonic_ns()
    sleeps = []
    for seconds in (0.2, 0.05, 0.05, 0.05, 0.05):
        real, mono = time.time_ns(), time.monotonic_ns()
        time.sleep(seconds)
        sleeps.append([mono, time.monotonic_ns(), seconds])
        if seconds == 0.2:
            first = (real, mono)
    with open(sys.argv[1], "w") as f:
        json.dump(
            {
                "real_ns": first[0],
                "mono_ns": first[1],
                "pid": os.getpid(),
                "tid": threading.get_native_id(),
                "spin_start_mono_ns": spin_start,
                "spin_end_mono_ns": spin_end,
                "sleeps": sleeps,
            },
            f,
        )


main()
