"""Rows each side's conversion left out as impossible (end before start, NULL or NaN times, huge durations,
duplicate string ids), as comparison notes.

A gate over a trace that lost a tenth of its kernels to end < start would otherwise compare what was left as if it
were all of it, and read the missing time as a speed-up; the analysis report says so in its Data quality block,
and a comparison says it in its notes, which every compare format prints (issue 17).
"""

from __future__ import annotations


def quality_notes(base: list, new: list) -> list[str]:
    """One note per trace whose conversion left rows out, naming the side, the file and each problem's count."""
    return [
        text
        for role, traces in (("base", base), ("new", new))
        for t in traces
        if (text := note(role, t.path.name, t.quality()))
    ]


def note(role: str, name: str, found: dict) -> str | None:
    """The note for one trace from its `Trace.quality()` counts (a saved baseline keeps them), or None."""
    if not found:
        return None
    total = sum(q["count"] for q in found.values())
    parts = ", ".join(f"{k} {q['count']:,}" for k, q in sorted(found.items()))
    return f"data quality: {role} {name}: {total:,} rows with impossible values left out of every figure ({parts})"
