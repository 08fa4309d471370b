"""The result of a fleet analysis as plain data: what the renderers print and `-f json` writes, nothing else.

Rows are the cross-rank views' rows (sql/fleet/), times in ns on the fleet clock, so a reader can check a figure
against the SQL that made it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

SCHEMA = "inferscope-fleet-v1"  # inferscope/schemas/fleet-v1.schema.json


@dataclass
class FleetResult:
    """traces: one row per rank read (rank, path, identity source, format, clock anchor); failures: traces that
    could not be read ({path, error}); ranks: fleet_ranks; collectives: fleet_collectives; arrivals:
    fleet_arrivals (rank x collective, the heat map's cells); straggler: fleet_straggler's row or None; causes:
    fleet_straggler_causes; verdict: one sentence naming the straggler and its main cause; outliers: the flagged
    rows of fleet_outliers; clock: fleet_clock; params: what the statistics used (z_crit and how it was chosen);
    warnings: what may make the figures wrong (ranks with different numbers of collectives, ranks without a clock
    anchor), one line each."""

    traces: list[dict]
    ranks: list[dict]
    collectives: list[dict]
    arrivals: list[dict]
    straggler: dict | None
    causes: list[dict]
    verdict: str
    outliers: list[dict]
    clock: list[dict]
    failures: list[dict] = field(default_factory=list)
    unmatched_collectives: int = 0
    params: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def world_size(self) -> int | None:
        sizes = {t.get("world_size") for t in self.traces if t.get("world_size") is not None}
        return sizes.pop() if len(sizes) == 1 else None

    def to_dict(self) -> dict:
        from ..version import __version__

        return {
            "schema": SCHEMA,
            "tool": {"name": "inferscope", "version": __version__},
            "world_size": self.world_size,
            **asdict(self),
        }
