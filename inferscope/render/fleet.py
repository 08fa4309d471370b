"""Outputs of a fleet analysis (`inferscope analyze RANK_TRACES...`): terminal text, Markdown, JSON and HTML
(fleet_html.py).

Each takes the FleetResult and returns the document; the figures and the verdict are the result's own (sql/fleet/
and fleet/reduce.py), so the three outputs cannot disagree. The heat map is rank x collective, each cell the time
the rank waited there for the last arriver.
"""

from __future__ import annotations

import json

from ..errors import visible
from ..fleet.result import FleetResult
from .fleet_rows import clock_line, collective_rows, evidence_lines, heat, ms, outlier_lines, rank_rows

FORMATS = ("terminal", "md", "json", "html")
SUFFIXES = {".json": "json", ".md": "md", ".markdown": "md", ".txt": "terminal", ".html": "html", ".htm": "html"}
_SHADES = " ░▒▓█"


def _text_table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    lines = ["  ".join(h.rjust(w) for h, w in zip(header, widths))]
    lines += ["  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in rows]
    return "\n".join(lines)


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---:|" * len(header)]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in rows]
    return "\n".join(lines)


def _heat_text(result: FleetResult) -> str:
    ranks, seqs, cells = heat(result)
    if not cells:
        return "(no collective was matched on every rank)"
    top = max(cells.values()) or 1
    lines = [
        "rank  " + "".join(f"{s % 10}" for s in seqs) + f"   (wait per collective; darker = longer, max {ms(top)} ms)"
    ]
    for r in ranks:
        row = "".join(_SHADES[min(len(_SHADES) - 1, round(cells[(r, s)] / top * (len(_SHADES) - 1)))] for s in seqs)
        lines.append(f"{r:>4}  {row}")
    return "\n".join(lines)


def to_terminal(result: FleetResult) -> str:
    parts = [
        f"InferScope fleet: {len(result.ranks)} ranks"
        + (f" of world size {result.world_size}" if result.world_size else ""),
        "",
        visible(result.verdict),
    ]
    evidence = evidence_lines(result)
    if evidence:
        parts += ["", "Evidence (before the worst late arrival):"] + [f"  {e}" for e in evidence]
    parts += ["", "Per rank (* straggler):", _text_table(*rank_rows(result))]
    parts += ["", "Per collective:", _text_table(*collective_rows(result))]
    parts += ["", _heat_text(result)]
    outliers = outlier_lines(result)
    if outliers:
        parts += ["", "Outlier ranks (median/MAD):"] + [f"  {o}" for o in outliers]
    parts += ["", clock_line(result)]
    parts += [f"warning: {visible(w)}" for w in result.warnings]
    if result.unmatched_collectives:
        parts.append(f"{result.unmatched_collectives} collectives were not found on every rank and are left out")
    for f in result.failures:
        parts.append(f"not analysed: {visible(f['path'])}: {visible(f['error'])}")
    return "\n".join(parts) + "\n"


def to_markdown(result: FleetResult) -> str:
    parts = [f"# InferScope fleet: {len(result.ranks)} ranks", "", f"**Verdict.** {visible(result.verdict)}"]
    evidence = evidence_lines(result)
    if evidence:
        parts += ["", "Evidence, before its worst late arrival:", ""] + [f"- {e}" for e in evidence]
    parts += ["", "## Per rank", "", _md_table(*rank_rows(result))]
    parts += ["", "## Per collective", "", _md_table(*collective_rows(result))]
    ranks, seqs, cells = heat(result)
    if cells:
        parts += ["", "## Wait per rank and collective (ms)", ""]
        parts.append(
            _md_table(["rank"] + [f"#{s}" for s in seqs], [[str(r)] + [ms(cells[(r, s)]) for s in seqs] for r in ranks])
        )
    outliers = outlier_lines(result)
    if outliers:
        parts += ["", "## Outlier ranks (median/MAD)", ""] + [f"- {o}" for o in outliers]
    parts += ["", "## Clocks", "", clock_line(result)]
    if result.warnings:
        parts += ["", "## Warnings", ""] + [f"- {visible(w)}" for w in result.warnings]
    if result.failures:
        parts += ["", "## Not analysed", ""] + [
            f"- `{visible(f['path'])}`: {visible(f['error'])}" for f in result.failures
        ]
    return "\n".join(parts) + "\n"


def to_json(result: FleetResult) -> str:
    return json.dumps(result.to_dict(), indent=1, default=str) + "\n"


def render(result: FleetResult, fmt: str) -> str:
    if fmt == "html":
        from .fleet_html import to_html

        return to_html(result)
    return {"terminal": to_terminal, "md": to_markdown, "json": to_json}[fmt](result)
