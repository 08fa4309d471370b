"""Workload that ignores SIGINT, as one started from `cmd &` in a script inherits it: announces itself, then
works until SIGTERM (or 120 s). argv[1]: file to write "ready", then "SIGTERM", into."""

import signal
import sys
import time

marker = sys.argv[1]
signal.signal(signal.SIGINT, signal.SIG_IGN)


def on_term(signum, frame):
    with open(marker, "a") as f:
        f.write("SIGTERM\n")
    sys.exit(143)


signal.signal(signal.SIGTERM, on_term)
with open(marker, "w") as f:
    f.write("ready\n")
deadline = time.monotonic() + 120
while time.monotonic() < deadline:
    sum(i * i for i in range(20000))
    time.sleep(0.01)
