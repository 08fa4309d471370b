"""A FleetResult read into the rows and lines every fleet output shows: per-rank and per-collective tables, the
wait heat map's cells, the straggler's evidence, the clock check, the outliers.

One reading for the terminal, Markdown (fleet.py) and HTML (fleet_html.py) outputs, so the formats cannot
disagree and neither output module imports the other's helpers.
"""

from __future__ import annotations

from ..errors import visible
from ..fleet.result import FleetResult


def ms(ns) -> str:
    return "-" if ns is None else f"{ns / 1e6:.2f}"


def pct(x) -> str:
    return "-" if x is None else f"{x:.0f}"


def rank_rows(result: FleetResult) -> tuple[list[str], list[list[str]]]:
    source = {t["rank"]: t["source"] for t in result.traces}
    last = result.straggler["rank"] if result.straggler else None
    header = [
        "rank",
        "step ms",
        "GPU busy %",
        "compute ms",
        "comm ms",
        "comm %",
        "waited ms",
        "last at",
        "caused wait ms",
        "rank from",
    ]
    rows = []
    for r in result.ranks:
        mark = " *" if r["rank"] == last else ""
        rows.append(
            [
                f"{r['rank']}{mark}",
                ms(r["step_ns"]),
                pct(r["gpu_busy_pct"]),
                ms(r["compute_ns"]),
                ms(r["comm_ns"]),
                pct(r["comm_pct"]),
                ms(r["waited_ns"]),
                str(r["times_last"]),
                ms(r["caused_wait_ns"]),
                source.get(r["rank"], "-"),
            ]
        )
    return header, rows


def collective_rows(result: FleetResult) -> tuple[list[str], list[list[str]]]:
    header = ["#", "collective", "skew ms", "last rank", "wait caused ms", "transfer ms", "end spread µs"]
    rows = [
        [
            str(c["seq"]),
            visible(c["kind"]),
            ms(c["skew_ns"]),
            str(c["last_rank"]),
            ms(c["wait_caused_ns"]),
            ms(c["transfer_ns"]),
            f"{c['end_spread_ns'] / 1e3:.0f}",
        ]
        for c in result.collectives
    ]
    return header, rows


def heat(result: FleetResult) -> tuple[list[int], list[int], dict[tuple[int, int], int]]:
    cells = {(a["rank"], a["seq"]): a["wait_ns"] for a in result.arrivals}
    ranks = sorted({r for r, _ in cells})
    seqs = sorted({s for _, s in cells})
    return ranks, seqs, cells


def evidence_lines(result: FleetResult) -> list[str]:
    s = result.straggler
    if s is None:
        return []
    out = []
    for c in result.causes:
        if c["seq"] == s["worst_seq"] and (c["excess_ns"] or 0) > 0:
            detail = f"; {visible(c['detail'])}" if c.get("detail") else ""
            out.append(
                f"{c['cause']}: {ms(c['excess_ns'])} ms more than the median other rank "
                f"(rank {s['rank']} {ms(c['straggler_ns'])} ms, others {ms(c['others_median_ns'])} ms){detail}"
            )
    return out


def clock_line(result: FleetResult) -> str:
    if not result.clock:
        return ""
    sources = sorted({c["anchor_source"] for c in result.clock})
    if not any(c.get("collectives") for c in result.clock):
        return (
            f"clocks: anchored by {', '.join(sources)}; no collective was matched on every rank to check them against"
        )
    worst = max((abs(c["offset_ns"] or 0) for c in result.clock), default=0)
    resid = max((c["residual_ns"] or 0 for c in result.clock), default=0)
    return (
        f"clocks: anchored by {', '.join(sources)}; matching collective ends leave offsets up to "
        f"{worst / 1e3:.1f} µs, residual up to {resid / 1e3:.1f} µs"
    )


def outlier_lines(result: FleetResult) -> list[str]:
    return [
        f"rank {o['rank']}: {o['metric']} {ms(o['value'])} ms vs median {ms(o['median'])} ms "
        f"(robust z {o['robust_z']:.1f} > {result.params.get('z_crit', 0):.2f})"
        for o in result.outliers
    ]
