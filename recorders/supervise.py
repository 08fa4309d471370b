"""Watching the recorded workload: signal forwarding, --duration, the nsys stall watch, and killing by PID.

The workload (or nsys) runs in its own session, so a terminal Ctrl-C reaches it exactly once, through the
recorder: SIGINT is forwarded as SIGINT, SIGTERM and SIGHUP as SIGTERM, to nsys (which passes the signal to the
application and then writes its report) or to the workload itself without nsys. A signal that arrives after the
workload exited is held back once so nsys can finish the report; the third signal kills everything.

`--duration` stops the workload the same way, with SIGINT. A workload that ignores SIGINT (it inherited the
setting from a shell that ran `inferscope record ... &`, or installs its own handler and carries on) gets
SIGTERM after INFERSCOPE_STOP_GRACE_S seconds (default 15) and SIGKILL after as many again; without that, such
a recording never ended. The clock runs only while the workload itself runs, never while nsys writes its report.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from typing import Callable

from . import nsys as nsys_mod

FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
STOP_GRACE_ENV = "INFERSCOPE_STOP_GRACE_S"


@dataclass
class Outcome:
    returncode: int
    received: list[str] = field(default_factory=list)
    stopped_by: str | None = None
    stall: dict | None = None


class Supervisor:
    def __init__(self, proc: subprocess.Popen, nsys: str | None, duration: float | None, say: Callable[[str], None]):
        self.proc, self.nsys, self.duration, self.say = proc, nsys, duration, say
        self.received: list[str] = []
        self.watch = StallWatch(nsys, proc, say) if nsys else None

    def _forward(self, signum, _frame) -> None:
        name = signal.Signals(signum).name
        self.received.append(name)
        n = len(self.received)
        if self.nsys and n == 1 and not nsys_mod.workload_running(self.proc.pid):
            self.say(
                "inferscope: the workload has already exited and nsys is writing its report; "
                "send the signal again to stop nsys (the report will be lost)"
            )
            return
        if n == 1:
            self.say(
                f"inferscope: {name} received; stopping the workload"
                f"{' and letting nsys write its report' if self.nsys else ''} (send it twice more to kill)"
            )
        if n >= 3:
            self.say("inferscope: killing the workload; the nsys report will be missing or incomplete")
            kill_tree(self.proc.pid)
            return
        try:
            self.proc.send_signal(signal.SIGINT if signum == signal.SIGINT else signal.SIGTERM)
        except ProcessLookupError:
            pass

    def wait(self) -> Outcome:
        previous = {s: signal.signal(s, self._forward) for s in FORWARDED}
        stopped_by = None
        deadline = time.monotonic() + self.duration if self.duration else None
        grace = float(os.environ.get(STOP_GRACE_ENV) or 15)
        escalation = [(signal.SIGTERM, "SIGTERM"), (signal.SIGKILL, "SIGKILL")]
        try:
            while True:
                try:
                    returncode = self.proc.wait(timeout=1.0)
                    break
                except subprocess.TimeoutExpired:
                    pass
                now = time.monotonic()
                if deadline is not None and now >= deadline and stopped_by is None:
                    stopped_by = "duration"
                    self.say(f"inferscope: --duration {self.duration:g}s reached; stopping the workload")
                    self.proc.send_signal(signal.SIGINT)
                    deadline = now + grace
                elif stopped_by == "duration" and escalation and now >= deadline:
                    if self.nsys and not nsys_mod.workload_running(self.proc.pid):
                        deadline = now + grace  # the workload is gone; nsys is writing its report
                        continue
                    sig, name = escalation.pop(0)
                    self.say(f"inferscope: the workload is still running {grace:g}s after SIGINT; sending {name}")
                    if sig == signal.SIGKILL:
                        kill_tree(self.proc.pid)
                    else:
                        self.proc.send_signal(sig)
                    deadline = now + grace
                if self.watch is not None:
                    self.watch.check()
        finally:
            for s, h in previous.items():
                signal.signal(s, h)
        stall = self.watch.describe() if self.watch is not None and self.watch.stalled_at is not None else None
        if stopped_by is None and self.received:
            stopped_by = f"signal {self.received[0]}"
        return Outcome(returncode, self.received, stopped_by, stall)


class StallWatch:
    """Ends an nsys session that hangs after the workload exited.

    nsys 2022.4 sometimes never finishes a session when perf-based collection (CPU sampling, context switches) is
    on: the application is gone, no report is being generated, and an agent thread spins on EPOLLHUP from its perf
    file descriptors while the CLI waits forever. When the workload has exited and no QdstrmImporter has run for
    INFERSCOPE_NSYS_STALL_S seconds (default 120; generation in progress resets the clock), nsys gets SIGINT
    (which makes it give up), then `nsys shutdown` 30 s later, then SIGKILL; the manifest records it.
    """

    def __init__(self, nsys: str, proc: subprocess.Popen, say: Callable[[str], None]):
        self.nsys, self.proc, self.say = nsys, proc, say
        self.limit_s = float(os.environ.get("INFERSCOPE_NSYS_STALL_S") or 120)
        self.idle_since: float | None = None
        self.stalled_at: float | None = None
        self.actions: list[str] = []

    def check(self) -> None:
        now = time.monotonic()
        if self.stalled_at is not None:
            waited = now - self.stalled_at
            if waited > 30 and "shutdown" not in self.actions:
                self.actions.append("shutdown")
                nsys_mod.shutdown(self.nsys, self.proc.pid)
            elif waited > 60 and "kill" not in self.actions:
                self.actions.append("kill")
                kill_tree(self.proc.pid)
            return
        if nsys_mod.workload_running(self.proc.pid) or nsys_mod.generating(self.proc.pid):
            self.idle_since = None
            return
        self.idle_since = self.idle_since or now
        if now - self.idle_since >= self.limit_s:
            self.stalled_at = now
            self.actions.append("SIGINT")
            self.say(
                f"inferscope: nsys has not finished {self.limit_s:g}s after the workload exited and is not "
                "writing a report (a known nsys hang with perf-based collection, which --nsys-args "
                "'-s none --cpuctxsw=none' avoids); stopping nsys, the report will be missing"
            )
            self.proc.send_signal(signal.SIGINT)

    def describe(self) -> dict:
        return {"after_s": self.limit_s, "actions": self.actions}


def descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    data = f.read()
                ppid = int(data[data.rfind(b")") + 2 :].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [root]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def kill_tree(root: int) -> None:
    """SIGKILL the recorder's child and everything below it (nsys puts the application in its own session, so
    killing the process group alone would leave it running)."""
    for pid in [root, *descendants(root)]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
