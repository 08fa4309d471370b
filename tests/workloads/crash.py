"""Workload that works for a moment and then crashes hard (SIGABRT, as a segfaulting extension would)."""

import os
import time


def doomed_step():
    end = time.monotonic() + 1.5  # long enough for nsys to finish starting its session
    while time.monotonic() < end:
        sum(i * i for i in range(10000))
    os.abort()


doomed_step()
