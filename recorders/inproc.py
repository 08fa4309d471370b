"""The in-process sampler: a daemon thread inside the workload that snapshots `sys._current_frames()` at N Hz.

It needs no permission at all, which is why it is the fallback when the out-of-process sampler cannot read the
workload (ptrace restrictions, a Python without a verified struct layout). Its limits, recorded in the bundle:
it must take the GIL to sample, so a thread that holds the GIL inside a long C call is seen only after the call
returns (the sample is late, not wrong: its time is when the snapshot was taken, and the delay shows up in the
lag statistics); it cannot tell who held the GIL (`gil` is null); and threads that CPython did not create
through `threading` have no known native id and are skipped.

Running or idle comes from each thread's CPU clock (pthread_getcpuclockid): a thread that used at least half of
the time since its previous sample was running. Reading /proc instead, as the out-of-process sampler does, costs
three system calls per thread per sample, each giving up the GIL that a CPU-bound thread then holds for up to the
switch interval (5 ms); with the clock, a sample of any number of threads is taken under one hold of the GIL.
/proc is read once per thread, for its first sample.
"""

from __future__ import annotations

import os
import sys
import threading
import time

from . import procfs
from .samplefile import Writer

LAG_RESERVOIR = 20000


class LagStats:
    """Scheduling lag of the samples (ns late versus the N Hz grid) and ticks skipped because of it."""

    def __init__(self):
        self.values: list[int] = []
        self.count = 0
        self.max = 0
        self.missed = 0

    def add(self, lag: int) -> None:
        self.count += 1
        self.max = max(self.max, lag)
        if len(self.values) < LAG_RESERVOIR:
            self.values.append(lag)
        else:  # keep a uniform subsample without randomness: replace round-robin
            self.values[self.count % LAG_RESERVOIR] = lag

    def summary(self) -> dict:
        v = sorted(self.values)

        def pct(q: float) -> int | None:
            return v[min(len(v) - 1, int(q * len(v)))] if v else None

        return {
            "ticks": self.count,
            "lag_ns_p50": pct(0.5),
            "lag_ns_p99": pct(0.99),
            "lag_ns_max": self.max,
            "missed_ticks": self.missed,
        }


class InProcessSampler(threading.Thread):
    def __init__(self, path, rate_hz: float, header: dict):
        super().__init__(name="inferscope-sampler", daemon=True)
        self.period_ns = int(1e9 / rate_hz)
        self.writer = Writer(path, {**header, "sampler": "inprocess", "rate_hz": rate_hz})
        self._stop_evt = threading.Event()
        self.lag = LagStats()
        self.pid = os.getpid()
        self.errors = 0
        self._abandoned = False
        self._cpu: dict[tuple[int, int], tuple[int, int, int]] = {}  # (ident, tid) -> (clock id, mono, cpu ns)

    def run(self) -> None:
        me = threading.get_ident()
        self.writer.thread(self.pid, threading.get_native_id(), self.name)
        next_ns = time.monotonic_ns()
        while not self._stop_evt.is_set():
            now = time.monotonic_ns()
            if now < next_ns:
                self._stop_evt.wait((next_ns - now) / 1e9)
                continue
            try:
                self._sample(me, next_ns)
            except Exception:  # never let sampling break the workload
                self.errors += 1
            next_ns += self.period_ns
            now = time.monotonic_ns()
            if now > next_ns:
                skipped = (now - next_ns) // self.period_ns + 1
                self.lag.missed += skipped
                next_ns += skipped * self.period_ns
            self.writer.maybe_flush()

    def _sample(self, me: int, due_ns: int) -> None:
        frames = sys._current_frames()
        mono, real = time.monotonic_ns(), time.time_ns()
        self.lag.add(mono - due_ns)
        active = threading._active  # ident -> Thread; the only map from ident to native id
        w, pid = self.writer, self.pid
        for ident, frame in frames.items():
            if ident == me:
                continue
            thread = active.get(ident)
            tid = getattr(thread, "native_id", None)
            if tid is None:
                continue
            w.thread(pid, tid, thread.name)
            stack = []
            f = frame
            while f is not None:
                code = f.f_code
                stack.append((getattr(code, "co_qualname", code.co_name), code.co_filename, f.f_lineno or 0))
                f = f.f_back
            w.sample(mono, real, pid, tid, w.stack_id(stack), self._state(ident, tid, mono), None)
        if len(self._cpu) > 2 * len(frames) + 16:  # forget threads that ended
            self._cpu = {k: v for k, v in self._cpu.items() if k[0] in frames}
        del frames

    def _state(self, ident: int, tid: int, mono: int) -> str:
        """running / idle from the thread's CPU time since its previous sample, without giving up the GIL."""
        key = (ident, tid)
        prev = self._cpu.get(key)
        try:
            clock = prev[0] if prev is not None else time.pthread_getcpuclockid(ident)
            cpu = time.clock_gettime_ns(clock)
        except (OSError, AttributeError, OverflowError):
            return procfs.thread_state(self.pid, tid)
        self._cpu[key] = (clock, mono, cpu)
        if prev is None or mono <= prev[1]:
            return procfs.thread_state(self.pid, tid)
        return "running" if 2 * (cpu - prev[2]) >= mono - prev[1] else "idle"

    def abandon(self) -> None:
        """In a forked child: forget the parent's sampler without touching the parent's file."""
        self._abandoned = True
        self.writer.detach()

    def stop(self) -> None:
        if self._abandoned or os.getpid() != self.pid:
            return
        self._stop_evt.set()
        if self.is_alive() and threading.current_thread() is not self:
            self.join(timeout=2)
        self.writer.close({"samples": self.writer.samples, "errors": self.errors, **self.lag.summary()})
