"""Analysing part of a trace: `--window START:END` and `--skip-warmup`, as a filter on the model's time tables.

A window is given in times since the trace's start (0 on the trace clock: the profiling session start for nsys,
the profiler's window start for Kineto), with units: `1.5s:3s`, `200ms:`, `:10s`. Skipping warm-up starts each
process's window where its warm-up window (sql/views/warmup.sql) ends. The window is applied below every view:
each model table that has a time (start_ns, or ts_ns for instants) keeps the rows that start inside it, so every
derived view, metric and rule sees only that part and nothing else needs to know. An event belongs to the window
it starts in (a kernel that starts before the window and ends inside it is left out, not cut), which keeps
counts and per-event durations honest. Tables without a time (devices, processes, strings) are kept whole.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from ..errors import QueryError
from ..units import fmt_ns

_UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "μs": 1_000, "ms": 1_000_000, "s": 1_000_000_000, "min": 60_000_000_000}
_VALUE = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*(ns|us|µs|μs|ms|s|min)?\s*$")
EXAMPLE = "e.g. 1.5s:3s, 200ms: or :10s (times since the trace start; units ns, us, ms, s, min)"


@dataclass
class Window:
    """The part of a trace an analysis covers, on the trace clock (ns).

    start_ns/end_ns: the bounds (None: open); per_pid_start_ns: with --skip-warmup, where each process's steady
    part starts (a process without warm-up starts at start_ns); source: what asked for it ("--window 1s:2s",
    "--skip-warmup"). `to_dict()` is what reports print as the window used."""

    start_ns: int | None = None
    end_ns: int | None = None
    per_pid_start_ns: dict[int, int] = field(default_factory=dict)
    source: str = ""

    def to_dict(self) -> dict:
        return {
            "source": self.source,
            "start_ns": self.start_ns,
            "end_ns": self.end_ns,
            "per_pid_start_ns": {str(k): v for k, v in sorted(self.per_pid_start_ns.items())},
            "text": self.describe(),
        }

    def describe(self) -> str:
        """One phrase: 'process 30156 from 1.23 s (the end of its warm-up) to the trace end on the trace clock (--skip-warmup)'."""

        def at(ns):
            return fmt_ns(ns)

        lo = f"from {at(self.start_ns)}" if self.start_ns is not None else "from the trace start"
        hi = f"to {at(self.end_ns)}" if self.end_ns is not None else "to the trace end"
        if self.per_pid_start_ns:
            lo = ", ".join(f"process {p} from {at(v)}" for p, v in sorted(self.per_pid_start_ns.items()))
            lo += " (the end of its warm-up)" if len(self.per_pid_start_ns) == 1 else " (the ends of their warm-up)"
            if self.start_ns is not None:
                lo += f", the rest from {at(self.start_ns)}"
        text = f"{lo} {hi} on the trace clock"
        if not self.per_pid_start_ns and "--skip-warmup" in self.source:
            text += " (no process has a warm-up window)"
        return f"{text} ({self.source})" if self.source else text


def parse_time(text: str, option: str = "--window", whole: str | None = None) -> int:
    """'1.5s' -> 1_500_000_000 ns. A bare number is refused (is 100 ms or s?) except 0."""
    m = _VALUE.match(text)
    said = f"{option} {whole}" if whole is not None else f"{option} {text!r}"
    if not m or (m.group(2) is None and float(m.group(1)) != 0):
        raise QueryError(f"{said}: {text.strip()!r} is not a time with a unit, {EXAMPLE}")
    value = float(m.group(1)) * _UNITS[m.group(2) or "ns"]
    if not math.isfinite(value) or value > 2**62:
        raise QueryError(f"{said}: {text.strip()!r} is out of range, {EXAMPLE}")
    return round(value)


def parse_window(text: str | None, option: str = "--window") -> tuple[int | None, int | None] | None:
    """'START:END' (either side may be empty) -> (start_ns, end_ns) since the trace start; None for no window.
    Raises QueryError, one line naming the option, for anything else (checked before a trace is read)."""
    if text is None:
        return None
    start, sep, end = str(text).partition(":")
    if not sep or (not start.strip() and not end.strip()):
        raise QueryError(f"{option} {text!r}: expected START:END, {EXAMPLE}")
    lo = parse_time(start, option, repr(text)) if start.strip() else None
    hi = parse_time(end, option, repr(text)) if end.strip() else None
    if lo is not None and hi is not None and hi <= lo:
        raise QueryError(f"{option} {text!r}: END must be after START, {EXAMPLE}")
    return lo, hi


def resolve(con, window, skip_warmup: bool) -> Window | None:
    """The Window to apply: `window` as text ('1s:2s') or (start_ns, end_ns) since the trace start, and/or the
    end of each process's warm-up window. None when neither is asked for. `con` must see the whole trace."""
    bounds = parse_window(window) if isinstance(window, str) else window
    if bounds is None and not skip_warmup:
        return None
    lo, hi = bounds if bounds is not None else (None, None)
    sources = [f"--window {window}" if isinstance(window, str) else "window"] if bounds is not None else []
    w = Window(lo, hi)
    if skip_warmup:
        sources.append("--skip-warmup")
        for pid, end in con.execute("SELECT pid, end_ns FROM warmup ORDER BY pid").fetchall():
            if pid is not None and end is not None and (lo is None or end > lo):
                w.per_pid_start_ns[int(pid)] = int(end)
    w.source = ", ".join(sources)
    return w


def where(w: Window, columns: set[str]) -> str | None:
    """The SQL condition that keeps a table's rows inside the window, for a table with these columns; None when the
    table has no time (kept whole)."""
    t = "start_ns" if "start_ns" in columns else "ts_ns" if "ts_ns" in columns else None
    if t is None:
        return None
    lo = "NULL" if w.start_ns is None else str(int(w.start_ns))
    if w.per_pid_start_ns and "pid" in columns:
        cases = " ".join(f"WHEN {int(p)} THEN {int(v)}" for p, v in sorted(w.per_pid_start_ns.items()))
        lo = f"CASE pid {cases} ELSE {lo} END"
    elif w.per_pid_start_ns:
        # a table without processes (GPU metrics) starts where the first process's steady part does
        first = min(w.per_pid_start_ns.values())
        lo = str(first if w.start_ns is None else max(first, w.start_ns))
    parts = []
    if lo != "NULL":
        parts.append(f"{t} >= coalesce({lo}, {t})")
    if w.end_ns is not None:
        parts.append(f"{t} < {int(w.end_ns)}")
    return " AND ".join(parts) or None
