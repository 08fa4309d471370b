"""Steady-state rules: advice that holds for a loop (CUDA graphs, preallocation, pinned buffers) is not given for
work that happened only while a process was starting up.

A rule says it gives such advice with the header line `-- steady_state: true`. Its evidence rows are then split
against each process's warm-up window (sql/views/warmup.sql):

* a row with a time window (start_ns/end_ns) that lies inside its process's warm-up window is warm-up work;
* a row without times cannot be placed: it belongs to the warm-up only when its process is nearly all start-up
  (the window covers at least MOSTLY_STARTUP_PCT of the process's span, so there is hardly a steady loop to
  advise); otherwise its finding stays and says that its figures include the warm-up window.

Steady rows make the findings as usual, with a sentence saying how many rows were left out; warm-up rows make
findings of their own, demoted to `info` with no impact, whose recommendation is to profile a steady step. So the
report says what was set aside and why, and the ranking holds only what the steady loop pays for.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from ..units import fmt_ns, fmt_pct

MOSTLY_STARTUP_PCT = 90.0


@dataclass
class WarmupWindow:
    pid: int
    start_ns: int
    end_ns: int
    share_pct: float
    steady_from: str


def windows(con) -> dict[int, WarmupWindow]:
    """Each process's warm-up window (empty when no process has one)."""
    rows = con.execute(
        "SELECT pid, start_ns, end_ns, share_pct, steady_from FROM warmup ORDER BY pid, start_ns"
    ).fetchall()
    return {
        int(pid): WarmupWindow(int(pid), int(s), int(e), float(share or 0), steady)
        for pid, s, e, share, steady in rows
        if pid is not None and s is not None and e is not None
    }


def warm_mask(table: pa.Table, wins: dict[int, WarmupWindow]) -> list[bool]:
    """Per evidence row: True when it is warm-up work (see the module docstring)."""
    n = table.num_rows
    if not wins or n == 0:
        return [False] * n
    cols = table.column_names
    pids = table.column("pid").to_pylist() if "pid" in cols else [None] * n
    timed = "start_ns" in cols and "end_ns" in cols
    starts = table.column("start_ns").to_pylist() if timed else [None] * n
    ends = table.column("end_ns").to_pylist() if timed else [None] * n
    out = []
    for pid, s, e in zip(pids, starts, ends):
        cands = [wins[pid]] if pid in wins else ([] if pid is not None else list(wins.values()))
        if s is not None and e is not None:
            out.append(any(w.start_ns <= s and e <= w.end_ns for w in cands))
        else:
            out.append(bool(cands) and all(w.share_pct >= MOSTLY_STARTUP_PCT for w in cands))
    return out


def warm_condition(columns: list[str], wins: dict[int, WarmupWindow]) -> str:
    """`warm_mask` as a SQL expression over evidence rows with these columns, for evidence kept in DuckDB
    (rule_evidence.py)."""
    pid = "pid" if "pid" in columns else "NULL"

    def inside(w: WarmupWindow) -> str:
        return f"({w.start_ns} <= start_ns AND end_ns <= {w.end_ns})"

    mostly = [w for w in wins.values() if w.share_pct >= MOSTLY_STARTUP_PCT]
    any_mostly = " OR ".join(f"{pid} = {w.pid}" for w in mostly) or "FALSE"
    all_mostly = "TRUE" if wins and len(mostly) == len(wins) else "FALSE"
    untimed = f"CASE WHEN {pid} IS NULL THEN {all_mostly} ELSE coalesce({any_mostly}, FALSE) END"
    if not timed(columns) or not wins:
        return untimed
    own = " OR ".join(f"({pid} = {w.pid} AND {inside(w)})" for w in wins.values())
    any_window = " OR ".join(inside(w) for w in wins.values())
    inside_own = f"coalesce(CASE WHEN {pid} IS NULL THEN {any_window} ELSE {own} END, FALSE)"
    return f"CASE WHEN start_ns IS NOT NULL AND end_ns IS NOT NULL THEN {inside_own} ELSE {untimed} END"


def split(table: pa.Table, wins: dict[int, WarmupWindow]) -> tuple[pa.Table, pa.Table]:
    """(steady rows, warm-up rows) of a rule's evidence."""
    mask = pa.array(warm_mask(table, wins), pa.bool_())
    return table.filter(pc.invert(mask)), table.filter(mask)


def note(pid, left_out: int, wins: dict[int, WarmupWindow]) -> str:
    """The sentence appended to a steady finding some of whose rows were set aside."""
    return f"Left out: {left_out} row{'' if left_out == 1 else 's'} in {_where(pid, wins)}."


def untimed_note(pid, wins: dict[int, WarmupWindow]) -> str:
    """The sentence appended to a finding whose rows have no times, of a process with a warm-up window."""
    return f"These figures include {_where(pid, wins)}; --skip-warmup leaves it out."


def timed(columns: list[str]) -> bool:
    """Whether evidence rows with these columns have times to place them by."""
    return "start_ns" in columns and "end_ns" in columns


def demote(finding, wins: dict[int, WarmupWindow]) -> None:
    """Turn a finding made of warm-up rows into an `info` note with no impact and the advice to look at a steady
    step instead."""
    where = _where(finding.pid, wins)
    steady = [w.steady_from for w in _windows_of(finding.pid, wins)]
    finding.summary = f"Only during warm-up, in {where}: {finding.summary}"
    finding.recommendation = (
        "Not steady-state work: it happened while the process was starting up, so this advice may not apply to "
        "the loop. Profile a steady step (or analyse with --skip-warmup"
        + (f" / --window {steady[0]}:" if len(steady) == 1 else "")
        + ") before acting on it."
    )
    finding.severity = "info"
    finding.impact_ns = 0


def _windows_of(pid, wins: dict[int, WarmupWindow]) -> list[WarmupWindow]:
    return [wins[pid]] if pid in wins else list(wins.values()) if pid is None else []


def _where(pid, wins: dict[int, WarmupWindow]) -> str:
    parts = [
        f"process {w.pid}'s warm-up window (its first {fmt_ns(w.end_ns - w.start_ns)}, {fmt_pct(w.share_pct)} of its "
        f"span)"
        for w in _windows_of(pid, wins)
    ]
    return "; ".join(parts) or "a warm-up window"
