"""The out-of-process sampler: a thread in the recorder that reads the workload's Python stacks at N Hz.

Workload processes announce themselves in `procs/` (recorders/agent.py) with the addresses it verified; this
thread reads their thread lists, GIL holder and stacks with `process_vm_readv` without pausing them, so the
workload pays no GIL hand-off and a thread stuck in a long C call holding the GIL is seen where it is. Each
sample is stamped with CLOCK_MONOTONIC/CLOCK_REALTIME read right before its stack is read.
"""

from __future__ import annotations

import errno
import json
import os
import threading
import time
from pathlib import Path

from . import memread, procfs
from .cpython_layout import LAYOUTS
from .inproc import LagStats
from .pystacks import Layout, StackReader
from .samplefile import Writer

SCAN_EVERY_NS = 20_000_000


class _Target:
    def __init__(self, reg: dict, file: str):
        self.pid = reg["pid"]
        self.file = file
        self.reader = StackReader(
            memread.reader(self.pid), Layout(LAYOUTS[reg["layout"]]), reg["interp"], reg["code_type"], reg.get("gil")
        )
        self.samples = 0
        self.errors = 0
        self.ended: str | None = None


class RemoteSampler(threading.Thread):
    def __init__(self, bundle: Path, rate_hz: float, header: dict):
        super().__init__(name="inferscope-remote-sampler", daemon=True)
        self.bundle = bundle
        self.period_ns = int(1e9 / rate_hz)
        self.writer = Writer(
            bundle / "samples" / "remote.jsonl.gz", {**header, "sampler": "remote", "rate_hz": rate_hz}
        )
        self.lag = LagStats()
        self.targets: dict[int, _Target] = {}
        self.finished: list[_Target] = []
        self._known_files: set[str] = set()
        self._stop_evt = threading.Event()
        self.sample_cost_ns = 0

    def run(self) -> None:
        next_ns = time.monotonic_ns()
        last_scan = 0
        while not self._stop_evt.is_set():
            now = time.monotonic_ns()
            if now < next_ns:
                self._stop_evt.wait((next_ns - now) / 1e9)
                continue
            if now - last_scan >= SCAN_EVERY_NS:
                self._scan()
                last_scan = now
            if self.targets:
                self.lag.add(now - next_ns)
                for target in list(self.targets.values()):
                    self._sample(target)
                self.sample_cost_ns += time.monotonic_ns() - now
            next_ns += self.period_ns
            now = time.monotonic_ns()
            if now > next_ns:
                skipped = (now - next_ns) // self.period_ns + 1
                if self.targets:
                    self.lag.missed += skipped
                next_ns += skipped * self.period_ns
            self.writer.maybe_flush()

    def _scan(self) -> None:
        procs = self.bundle / "procs"
        try:
            names = sorted(n for n in os.listdir(procs) if n.endswith(".json") and n not in self._known_files)
        except OSError:
            return
        for name in names:
            self._known_files.add(name)
            try:
                reg = json.loads((procs / name).read_text())
            except (OSError, ValueError):
                self._known_files.discard(name)  # being written; retry next scan
                continue
            if reg.get("mode") != "remote" or reg.get("layout") not in LAYOUTS:
                continue
            old = self.targets.pop(reg["pid"], None)
            if old is not None:  # the pid exec'd a new interpreter
                old.ended = "replaced"
                self.finished.append(old)
            self.targets[reg["pid"]] = _Target(reg, name)

    def _sample(self, t: _Target) -> None:
        w = self.writer
        try:
            holder = t.reader.gil_holder()
            threads = t.reader.threads()
        except OSError as exc:
            self._end_or_count(t, exc)
            return
        for tstate, _ident, tid in threads:
            if not tid:
                continue
            mono, real = time.monotonic_ns(), time.time_ns()
            try:
                frames = t.reader.stack(tstate)
            except OSError as exc:
                self._end_or_count(t, exc)
                if t.ended:
                    return
                continue
            if not frames:
                continue
            if not w.knows_thread(t.pid, tid):
                w.thread(t.pid, tid, procfs.thread_comm(t.pid, tid))
            w.sample(
                mono,
                real,
                t.pid,
                tid,
                w.stack_id(frames),
                procfs.thread_state(t.pid, tid),
                tstate == holder if holder else False,
            )
            t.samples += 1

    def _end_or_count(self, t: _Target, exc: OSError) -> None:
        if exc.errno in (errno.ESRCH, errno.EPERM) or not os.path.exists(f"/proc/{t.pid}"):
            t.ended = "exited" if exc.errno != errno.EPERM else f"permission denied ({exc})"
            self.targets.pop(t.pid, None)
            self.finished.append(t)
        else:
            t.errors += 1  # a torn read while the target was changing its stack: skip this one

    def stop(self) -> dict:
        self._stop_evt.set()
        if self.is_alive():
            self.join(timeout=5)
        procs = {}
        for t in self.finished + list(self.targets.values()):
            procs[str(t.pid)] = {"samples": t.samples, "read_errors": t.errors, "ended": t.ended or "recording stopped"}
        summary = {
            "samples": self.writer.samples,
            **self.lag.summary(),
            "sampling_cpu_ns": self.sample_cost_ns,
            "processes": procs,
        }
        self.writer.close(summary)
        return summary
