"""Workload for the recorder's signal tests: announces itself, then waits; records which signal ended it.

argv[1]: file to write "ready" into once running, then "SIGINT"/"SIGTERM" when stopped. Exits 130 on SIGINT
(KeyboardInterrupt) and 143 on SIGTERM, as a well-behaved server would.
"""

import signal
import sys
import time

marker = sys.argv[1]


def on_term(signum, frame):
    with open(marker, "a") as f:
        f.write("SIGTERM\n")
    sys.exit(143)


signal.signal(signal.SIGTERM, on_term)
with open(marker, "w") as f:
    f.write("ready\n")
try:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        sum(i * i for i in range(20000))  # some Python work for the sampler to see
        time.sleep(0.01)
except KeyboardInterrupt:
    with open(marker, "a") as f:
        f.write("SIGINT\n")
    sys.exit(130)
