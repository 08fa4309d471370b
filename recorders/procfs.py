"""Thread facts from /proc that both samplers attach to each sample (Linux)."""

from __future__ import annotations

_STATES = {"R": "running", "S": "idle", "D": "uninterruptible", "T": "stopped", "t": "stopped", "I": "idle"}


def thread_state(pid: int, tid: int) -> str:
    """running (on a CPU or runnable), idle (sleeping: waiting on I/O, a lock, the GIL or a timer), ..."""
    try:
        with open(f"/proc/{pid}/task/{tid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return "unknown"
    # The command name (field 2) may contain spaces and parentheses; the state follows the last ')'.
    i = data.rfind(b")")
    return _STATES.get(chr(data[i + 2]), "unknown") if 0 <= i < len(data) - 2 else "unknown"


def thread_comm(pid: int, tid: int) -> str:
    try:
        with open(f"/proc/{pid}/task/{tid}/comm", "rb") as f:
            return f.read().decode(errors="replace").strip()
    except OSError:
        return ""
