"""Rows each side's conversion left out as impossible (end before start, NULL or NaN times, huge durations,
duplicate string ids), as comparison notes.

A gate over a trace that lost a tenth of its kernels to end < start would otherwise compare what was left as if it
were all of it, and read the missing time as a speed-up; the analysis report says so in its Data quality block,
and a comparison says it in its notes, which every compare format prints (issue 17).
"""

from __future__ import annotations


def quality_notes(base: list, new: list) -> list[str]:
    """One note per trace whose conversion left rows out, naming the side, the file and each problem's count."""
    notes = []
    for role, traces in (("base", base), ("new", new)):
        for t in traces:
            found = t.quality()
            if not found:
                continue
            total = sum(q["count"] for q in found.values())
            parts = ", ".join(f"{k} {q['count']:,}" for k, q in sorted(found.items()))
            notes.append(
                f"data quality: {role} {t.path.name}: {total:,} rows with impossible values left out of every "
                f"figure ({parts})"
            )
    return notes
