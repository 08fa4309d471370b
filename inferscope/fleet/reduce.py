"""The reduce of a fleet: DuckDB over every rank's per-rank Parquet tables, with the cross-rank views of
sql/fleet/, into a FleetResult.

It runs in the client process and reads only the small per-rank tables the workers wrote into the cache (a few
rows per collective per rank), never a trace.
"""

from __future__ import annotations

from statistics import NormalDist

from ..errors import TraceInputError
from .rank_task import RANK_TABLES
from .result import FleetResult

FAMILY_RATE = 0.05  # chance, over the whole fleet, of flagging some rank of a fleet whose ranks are alike

_CAUSE_TEXT = {
    "late start": "it started its step {x} after the median rank (what delayed it happened before the trace)",
    "longer GPU work": "its GPU work took {x} longer than the median rank's",
    "sync": "it spent {x} more in host synchronisation than the median rank",
    "data loading": "it spent {x} more loading data than the median rank",
    "host gap": "its GPU sat idle {x} longer than the median rank's with no sync or data loading to explain it "
    "(host-side work between launches)",
}


def z_crit(ranks: int) -> float:
    """|robust z| above which a rank is an outlier: the two-sided normal quantile at FAMILY_RATE shared across
    `ranks` ranks (Bonferroni), so larger fleets need a larger deviation before one rank is called out."""
    return NormalDist().inv_cdf(1 - FAMILY_RATE / (2 * max(ranks, 1)))


def _ms(ns: float | int | None) -> str:
    return "-" if ns is None else f"{ns / 1e6:.2f} ms"


def _parquet_list(files: list[str]) -> str:
    return "[" + ", ".join("'" + f.replace("'", "''") + "'" for f in files) + "]"


def _verdict(straggler: dict | None, causes: list[dict]) -> str:
    if straggler is None:
        return "no straggler: no rank kept another waiting at a matched collective"
    text = (
        f"rank {straggler['rank']} is the straggler: it arrived last at {straggler['times_last']} of "
        f"{straggler['collectives']} collectives and the other ranks waited {_ms(straggler['caused_wait_ns'])} "
        f"(rank-time) for it, {straggler['share_pct']:.0f} % of all collective wait"
    )
    worst = [c for c in causes if c["seq"] == straggler["worst_seq"] and (c["excess_ns"] or 0) > 0]
    if worst:
        top = max(worst, key=lambda c: c["excess_ns"])
        text += (
            f". At its worst ({straggler['worst_kind']} #{straggler['worst_seq']}) it arrived "
            f"{_ms(straggler['worst_late_ns'])} after the median rank; "
            + _CAUSE_TEXT[top["cause"]].format(x=_ms(top["excess_ns"]))
        )
    return text


def _check_overlap(summary: list[dict], info: dict[int, dict]) -> None:
    """Ranks of one run are traced at the same time: on a shared clock their windows overlap. Ranks whose windows
    do not are from different runs, and pairing their collectives would be meaningless."""
    if any(info[r["rank"]]["anchor_source"] == "none" for r in summary):
        return
    # a rank without GPU work has no window (rank_summary): nothing to place in time
    summary = [r for r in summary if r["window_start_ns"] is not None and r["window_end_ns"] is not None]
    if len(summary) < 2:
        return
    latest = max(summary, key=lambda r: r["window_start_ns"])
    earliest_end = min(summary, key=lambda r: r["window_end_ns"])
    if latest["window_start_ns"] > earliest_end["window_end_ns"]:
        raise TraceInputError(
            f"these traces are from different runs: {info[earliest_end['rank']]['path']} ends before "
            f"{info[latest['rank']]['path']} starts; give the ranks of one run"
        )


def _warnings(rows, traces: list[dict]) -> list[str]:
    """Lines about what can make the cross-rank figures wrong, for the reader to weigh them."""
    out = []
    counts = rows("SELECT rank, count(*) AS n FROM fleet_rank_collectives GROUP BY rank ORDER BY rank")
    by_count: dict[int, list[int]] = {}
    for r in counts:
        by_count.setdefault(r["n"], []).append(r["rank"])
    without = sorted({t["rank"] for t in traces} - {r["rank"] for r in counts})
    if without and counts:
        by_count.setdefault(0, []).extend(without)
    if len(by_count) > 1:
        usual = max(by_count, key=lambda n: len(by_count[n]))
        odd = ", ".join(
            f"rank{'s' if len(v) > 1 else ''} {', '.join(map(str, v))} {n}"
            for n, v in sorted(by_count.items())
            if n != usual
        )
        out.append(
            f"ranks have different numbers of communication kernels (most have {usual}; {odd}); collectives are "
            "matched by order, so those after the first difference may be paired wrongly"
        )
    out += _clock_warnings(rows)
    unanchored = [t["rank"] for t in traces if t["anchor_source"] == "none"]
    if unanchored and len(unanchored) < len(traces):
        out.append(
            f"ranks {', '.join(map(str, unanchored))} have no clock anchor (no session start in the trace): their "
            "times are on their own clock and arrivals against the others mean nothing"
        )
    return out


def _clock_warnings(rows) -> list[str]:
    """Ranks whose clocks the collectives contradict. Once the last rank has arrived, every rank's part of a
    collective takes about the transfer, so on one clock the parts end within a transfer of each other; a rank whose
    ends sit further than that from the others' (fleet_clock.offset_ns) is on a clock of its own, and its arrivals,
    the waits and the straggler are off by about that much. The transfer is measured without trusting any clock: at
    each collective the shortest part (the last arriver's, which waits for nobody) is a kernel duration, which no
    clock offset changes; the bar is the median of those, the job's own figure, not a fixed number of microseconds."""
    shortest = rows(
        "SELECT median(d) AS bar FROM (SELECT min(end_ns - arrival_ns) AS d FROM fleet_arrivals GROUP BY seq)"
    )
    bar = shortest[0]["bar"] if shortest else None
    if not bar or bar <= 0:
        return []
    off = rows(
        "SELECT rank, offset_ns FROM fleet_clock WHERE abs(offset_ns) > $bar ORDER BY abs(offset_ns) DESC, rank",
        {"bar": bar},
    )
    if not off:
        return []
    said = ", ".join(f"rank {r['rank']} by {_ms(r['offset_ns'])}" for r in off)
    return [
        f"the collectives contradict the clock anchors: collective ends are off the other ranks' ({said}), more "
        f"than a collective's median transfer of {bar / 1e3:.1f} µs; those ranks' arrivals, the waits and the straggler are "
        "off by about that much"
    ]


def reduce(ranks: list[dict], failures: list[dict]) -> FleetResult:
    """`ranks`: the run_rank results of the readable ranks (each with an identity and tables)."""
    from ..engine.core import Engine

    engine = Engine(view_dirs=("fleet",))
    try:
        con = engine.raw
        for name in RANK_TABLES:
            files = _parquet_list([r["tables"][name] for r in ranks])
            con.execute(f"CREATE TABLE fleet_{name} AS SELECT * FROM read_parquet({files}, union_by_name = true)")
        con.execute(
            "CREATE TABLE fleet_rank_info (rank BIGINT, path VARCHAR, source VARCHAR, world_size BIGINT, "
            "format VARCHAR, anchor_ns BIGINT, anchor_source VARCHAR)"
        )
        traces = sorted(
            (
                {
                    "rank": r["identity"]["rank"],
                    "path": r["shown"],
                    "source": r["identity"]["source"],
                    "world_size": r["identity"]["world_size"],
                    "format": r["format"],
                    "anchor_ns": r["anchor_ns"],
                    "anchor_source": r["anchor_source"],
                    "worker_pid": r.get("worker_pid"),
                }
                for r in ranks
            ),
            key=lambda t: t["rank"],
        )
        con.executemany(
            "INSERT INTO fleet_rank_info VALUES (?, ?, ?, ?, ?, ?, ?)", [list(t.values())[:7] for t in traces]
        )
        info = {t["rank"]: t for t in traces}
        _check_overlap(engine.rows("SELECT * FROM fleet_rank_summary").to_pylist(), info)

        def rows(sql: str, params=None) -> list[dict]:
            return engine.rows(sql, params).to_pylist()

        z = z_crit(len(ranks))
        straggler = rows("SELECT * FROM fleet_straggler")
        causes = rows("SELECT * FROM fleet_straggler_causes ORDER BY seq, excess_ns DESC, cause")
        result = FleetResult(
            traces=traces,
            ranks=rows("SELECT * FROM fleet_ranks ORDER BY rank"),
            collectives=rows("SELECT * FROM fleet_collectives ORDER BY seq"),
            arrivals=rows("SELECT * FROM fleet_arrivals ORDER BY seq, rank"),
            straggler=straggler[0] if straggler else None,
            causes=causes,
            verdict=_verdict(straggler[0] if straggler else None, causes),
            outliers=rows("SELECT * FROM fleet_outliers($z) WHERE outlier ORDER BY metric, rank", {"z": z}),
            clock=rows("SELECT * FROM fleet_clock ORDER BY rank"),
            failures=failures,
            unmatched_collectives=rows(
                "SELECT count(DISTINCT seq) AS n FROM fleet_rank_collectives "
                "WHERE seq NOT IN (SELECT seq FROM fleet_collectives)"
            )[0]["n"],
            params={"z_crit": z, "z_crit_rule": f"two-sided {FAMILY_RATE:.0%} across {len(ranks)} ranks (Bonferroni)"},
            warnings=_warnings(rows, traces),
        )
    finally:
        engine.close()
    return result
