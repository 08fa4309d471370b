"""The fleet report as one HTML file (`inferscope analyze RANK_TRACES... -f html`): the verdict and its evidence,
the rank x collective wait heat map, the per-rank and per-collective tables, outliers, the clock check.

The heat map is a table whose cells are shaded by the wait, with the figure in each cell, so it reads without
colour and copies into a spreadsheet. Values come from the FleetResult the other fleet outputs render, so the
formats cannot disagree. Rank paths and kernel names come from the traces, so every value is escaped, and the
page carries the single-trace report's Content-Security-Policy: no scripts, no fetches, inert offline.
"""

from __future__ import annotations

from markupsafe import Markup

from ..fleet.result import FleetResult
from .fleet_rows import clock_line, collective_rows, evidence_lines, heat, ms, outlier_lines, rank_rows

_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"
_CSS = """
body{font-family:system-ui,sans-serif;margin:2em;max-width:110em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}
th,td{border:1px solid #ccc;padding:.2em .5em;text-align:right;font-variant-numeric:tabular-nums}
th{background:#f3f3f3}
table.heat td{min-width:3.2em;font-size:.85em}
tr.straggler td{font-weight:bold}
.verdict{font-size:1.15em;background:#fff6e0;border-left:4px solid #e0a000;padding:.6em 1em}
.warning{color:#a00}
"""


def _table(header: list[str], rows: list[list[str]], marked: set[int] = frozenset(), cls: str = "") -> Markup:
    head = Markup("").join(Markup("<th>{}</th>").format(h) for h in header)
    body = Markup("").join(
        Markup("<tr{}>{}</tr>").format(
            Markup(' class="straggler"') if i in marked else "",
            Markup("").join(Markup("<td>{}</td>").format(c) for c in row),
        )
        for i, row in enumerate(rows)
    )
    return Markup("<table{}><thead><tr>{}</tr></thead><tbody>{}</tbody></table>").format(
        Markup(f' class="{cls}"') if cls else "", head, body
    )


def heat_map(result: FleetResult) -> Markup:
    """Rank x collective: each cell the time (ms) the rank waited at that collective for the last arriver, shaded
    against the longest wait; the last arriver's cell (0 ms) is outlined."""
    ranks, seqs, cells = heat(result)
    if not cells:
        return Markup("<p>No collective was matched on every rank.</p>")
    last = {c["seq"]: c["last_rank"] for c in result.collectives}
    top = max(cells.values()) or 1
    kinds = {c["seq"]: c["kind"] for c in result.collectives}
    head = Markup("<th>rank</th>") + Markup("").join(
        Markup('<th title="{}">#{}</th>').format(kinds.get(s, ""), s) for s in seqs
    )
    rows = []
    for r in ranks:
        tds = []
        for s in seqs:
            share = cells[(r, s)] / top
            style = f"background:rgba(200,40,0,{share:.2f});" + ("outline:2px solid #000;" if last.get(s) == r else "")
            if share > 0.6:
                style += "color:#fff;"
            tds.append(Markup('<td style="{}">{}</td>').format(style, ms(cells[(r, s)])))
        rows.append(Markup("<tr><th>{}</th>{}</tr>").format(r, Markup("").join(tds)))
    return Markup('<table class="heat"><thead><tr>{}</tr></thead><tbody>{}</tbody></table>').format(
        head, Markup("").join(rows)
    )


def to_html(result: FleetResult) -> str:
    title = f"InferScope fleet: {len(result.ranks)} ranks" + (
        f" of world size {result.world_size}" if result.world_size else ""
    )
    parts = [Markup("<h1>{}</h1>").format(title), Markup('<p class="verdict">{}</p>').format(result.verdict)]
    evidence = evidence_lines(result)
    if evidence:
        parts.append(
            Markup("<h2>Evidence, before its worst late arrival</h2><ul>{}</ul>").format(
                Markup("").join(Markup("<li>{}</li>").format(e) for e in evidence)
            )
        )
    parts.append(Markup("<h2>Wait per rank and collective (ms; outlined: the last arriver)</h2>"))
    parts.append(heat_map(result))
    straggler = result.straggler["rank"] if result.straggler else None
    header, rows = rank_rows(result)
    marked = {i for i, r in enumerate(result.ranks) if r["rank"] == straggler}
    parts += [Markup("<h2>Per rank (* straggler)</h2>"), _table(header, rows, marked)]
    parts += [Markup("<h2>Per collective</h2>"), _table(*collective_rows(result))]
    outliers = outlier_lines(result)
    if outliers:
        parts.append(
            Markup("<h2>Outlier ranks (median/MAD)</h2><ul>{}</ul>").format(
                Markup("").join(Markup("<li>{}</li>").format(o) for o in outliers)
            )
        )
    parts.append(Markup("<h2>Clocks</h2><p>{}</p>").format(clock_line(result)))
    for w in result.warnings:
        parts.append(Markup('<p class="warning">warning: {}</p>').format(w))
    if result.unmatched_collectives:
        parts.append(
            Markup("<p>{} collectives were not found on every rank and are left out.</p>").format(
                result.unmatched_collectives
            )
        )
    if result.failures:
        parts.append(
            Markup("<h2>Not analysed</h2><ul>{}</ul>").format(
                Markup("").join(
                    Markup("<li><code>{}</code>: {}</li>").format(f["path"], f["error"]) for f in result.failures
                )
            )
        )
    page = Markup(
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta http-equiv="Content-Security-Policy" content="{}"><title>{}</title><style>{}</style></head>'
        "<body>\n{}\n</body></html>\n"
    ).format(Markup(_CSP), title, Markup(_CSS), Markup("\n").join(parts))
    return str(page)
