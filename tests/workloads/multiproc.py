"""Workload with a forked worker, a spawned interpreter and a second thread: every one must be sampled."""

import multiprocessing as mp
import subprocess
import sys
import threading
import time


def busy(seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        sum(i * i for i in range(5000))


def forked_worker():
    busy(0.5)


def main():
    t = threading.Thread(target=busy, args=(0.5,), name="helper-thread")
    t.start()
    p = mp.get_context("fork").Process(target=forked_worker)
    p.start()
    subprocess.run(
        [sys.executable, "-c", "import time\nend=time.monotonic()+0.5\nwhile time.monotonic()<end: pass"], check=True
    )
    busy(0.3)
    p.join()
    t.join()


if __name__ == "__main__":
    main()
