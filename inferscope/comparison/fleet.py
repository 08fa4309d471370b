"""Two fleets compared (`inferscope compare --fleet BASE NEW`): the job's step time gates, the ranks explain it.

A synchronous job steps at the pace of its slowest rank (every other rank waits for it at the next collective),
so the job's step time is the longest per-rank step (fleet_ranks.step_ns, each rank's median step) and the rank
with it is the pacing rank. The gate is that figure's relative change against the threshold. A fleet is one run:
its ranks are not independent repeats (they wait for each other), so there is no noise estimate here and the
report says so; gate repeats of a fleet by comparing their JSON one pair at a time.

The explanation is per rank, matched by rank number: how each rank's step, compute, communication and collective
wait moved, which rank moved most, and whether the straggler changed. A different world size is a different job
shape, as a GPU count change is for one trace: not comparable unless declared intended.

Each side is a list of rank traces (files, directories, quoted globs) analysed with `analyze_fleet`, or one fleet
JSON written by `inferscope analyze RANK_TRACES... -f json`, so CI can analyse each fleet once and gate later.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from ..errors import CompareError
from ..fleet.result import SCHEMA as FLEET_SCHEMA
from ..fleet.result import FleetResult

SCHEMA = "inferscope-fleet-compare-v1"  # inferscope/schemas/fleet-compare-v1.schema.json


@dataclass
class FleetComparison:
    """base_step_ns / new_step_ns: the job's step time on each side (the longest per-rank median step), set by
    base_pacing_rank / new_pacing_rank; change: new/base - 1; verdict: 'regression', 'improvement', 'pass' or
    'not_comparable'; ranks: one row per rank on both sides (base_* and new_* of step, compute, communication,
    collective wait, wait caused; delta_step_ns); explanation: sentences naming the rank that explains the change
    and what moved on it (compute, communication, collective wait, and GPU idle: step change minus GPU busy change,
    host-side time); notes: what the reader should weigh (no noise estimate, ranks on one side only)."""

    base: str
    new: str
    threshold: float
    base_world_size: int | None
    new_world_size: int | None
    base_step_ns: int | None
    new_step_ns: int | None
    base_pacing_rank: int | None
    new_pacing_rank: int | None
    change: float | None
    verdict: str
    base_straggler: int | None
    new_straggler: int | None
    base_verdict: str
    new_verdict: str
    ranks: list[dict]
    explanation: list[str]
    notes: list[str] = field(default_factory=list)

    @property
    def comparable(self) -> bool:
        return self.verdict != "not_comparable"

    def exit_code(self) -> int:
        """0 no regression, 1 the job's step time grew beyond the threshold, 2 not comparable."""
        return {"not_comparable": 2, "regression": 1}.get(self.verdict, 0)

    def to_dict(self) -> dict:
        from ..version import __version__

        return {"schema": SCHEMA, "tool": {"name": "inferscope", "version": __version__}, **asdict(self)}


def is_fleet_json(path: Path) -> bool:
    """Whether `path` is a fleet result written by `analyze -f json` (not a rank trace, which is JSON too)."""
    if not (path.is_file() and path.suffix == ".json"):
        return False
    with open(path, "rb") as fh:
        head = fh.read(256)
    return b'"schema"' in head and FLEET_SCHEMA.encode() in head


def load_fleet_json(path: Path) -> FleetResult:
    from dataclasses import fields

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CompareError(f"{path}: cannot read this fleet JSON ({exc})") from exc
    if data.get("schema") != FLEET_SCHEMA:
        raise CompareError(f"{path}: not a fleet result (schema {data.get('schema')!r}, expected {FLEET_SCHEMA})")
    try:
        return FleetResult(**{f.name: data[f.name] for f in fields(FleetResult)})
    except KeyError as exc:
        raise CompareError(f"{path}: fleet JSON without its {exc.args[0]!r} field") from exc


def open_fleet(items: list[Path], analyse: Callable[[list[Path]], FleetResult]) -> FleetResult:
    """One side: a saved fleet JSON, or rank traces handed to `analyse`."""
    if len(items) == 1 and is_fleet_json(Path(items[0])):
        return load_fleet_json(Path(items[0]))
    return analyse(items)


def _pacing(result: FleetResult) -> tuple[int | None, int | None]:
    rows = [r for r in result.ranks if r.get("step_ns") is not None]
    if not rows:
        return None, None
    top = max(rows, key=lambda r: (r["step_ns"], -r["rank"]))
    return int(top["step_ns"]), top["rank"]


def _ms(ns) -> str:
    return "-" if ns is None else f"{ns / 1e6:.2f} ms"


def _signed_ms(ns) -> str:
    return "-" if ns is None else f"{ns / 1e6:+.2f} ms"


_PARTS = (("compute_ns", "compute"), ("comm_ns", "communication"), ("waited_ns", "waiting at collectives"))


def _rank_rows(base: FleetResult, new: FleetResult) -> list[dict]:
    b = {r["rank"]: r for r in base.ranks}
    n = {r["rank"]: r for r in new.ranks}
    rows = []
    for rank in sorted(set(b) & set(n)):
        row = {"rank": rank}
        for key in ("step_ns", "gpu_busy_ns", "compute_ns", "comm_ns", "waited_ns", "caused_wait_ns"):
            row[f"base_{key}"] = b[rank].get(key)
            row[f"new_{key}"] = n[rank].get(key)
        bs, ns_ = row["base_step_ns"], row["new_step_ns"]
        row["delta_step_ns"] = None if bs is None or ns_ is None else ns_ - bs
        rows.append(row)
    return rows


def _explain(c: FleetComparison) -> list[str]:
    out = []
    if c.change is not None:
        out.append(
            f"job step time {_ms(c.base_step_ns)} -> {_ms(c.new_step_ns)} ({c.change:+.1%}; threshold "
            f"{c.threshold:.1%}), set by rank {c.base_pacing_rank} -> rank {c.new_pacing_rank}"
        )
    moved = [r for r in c.ranks if r["delta_step_ns"] is not None]
    if moved and any(r["delta_step_ns"] for r in moved):
        worse = c.verdict != "improvement"
        top = max(moved, key=lambda r: (r["delta_step_ns"] if worse else -r["delta_step_ns"], -r["rank"]))
        parts = []
        for key, label in _PARTS:
            old, now = top[f"base_{key}"], top[f"new_{key}"]
            if old is not None and now is not None:
                parts.append(f"{label} {_signed_ms(now - old)}")
        if top["base_gpu_busy_ns"] is not None and top["new_gpu_busy_ns"] is not None:
            # what the GPU did not account for: host-side time (data loading, Python, syncs) within the step
            idle = top["delta_step_ns"] - (top["new_gpu_busy_ns"] - top["base_gpu_busy_ns"])
            parts.append(f"GPU idle {_signed_ms(idle)}")
        out.append(
            f"rank {top['rank']} moved most: step {_ms(top['base_step_ns'])} -> {_ms(top['new_step_ns'])} "
            f"({_signed_ms(top['delta_step_ns'])}; " + ", ".join(parts) + ")"
        )
    elif moved:
        out.append("no rank's step time moved")
    if c.base_straggler != c.new_straggler:
        out.append(f"the straggler changed: rank {c.base_straggler} -> rank {c.new_straggler}")
    elif c.new_straggler is not None:
        row = next((r for r in c.ranks if r["rank"] == c.new_straggler), None)
        if row is not None:
            out.append(
                f"the straggler is rank {c.new_straggler} on both sides; the wait it causes "
                f"{_ms(row['base_caused_wait_ns'])} -> {_ms(row['new_caused_wait_ns'])}"
            )
    return out


def compare_fleets(
    base: FleetResult,
    new: FleetResult,
    *,
    threshold: float,
    base_label: str = "base",
    new_label: str = "new",
    allow_world_size_change: bool = False,
) -> FleetComparison:
    """Gate `new` against `base` on the job's step time and explain the change by rank."""
    base_step, base_pace = _pacing(base)
    new_step, new_pace = _pacing(new)
    notes = ["a fleet is one run: its ranks wait for each other and are not repeats, so the gate has no noise estimate"]
    only = sorted({r["rank"] for r in base.ranks} ^ {r["rank"] for r in new.ranks})
    if only:
        notes.append(f"ranks on one side only, left out of the per-rank table: {', '.join(map(str, only))}")
    change = None if not base_step or new_step is None else new_step / base_step - 1
    if base.world_size != new.world_size and not allow_world_size_change:
        verdict = "not_comparable"
        notes.insert(
            0,
            f"world size {base.world_size} -> {new.world_size}: a different job shape; pass "
            "--allow-hardware-change to compare anyway",
        )
    elif change is None:
        raise CompareError("a fleet without step times on one side cannot gate the job's step time")
    elif change > threshold:
        verdict = "regression"
    elif change < -threshold:
        verdict = "improvement"
    else:
        verdict = "pass"
    result = FleetComparison(
        base=base_label,
        new=new_label,
        threshold=threshold,
        base_world_size=base.world_size,
        new_world_size=new.world_size,
        base_step_ns=base_step,
        new_step_ns=new_step,
        base_pacing_rank=base_pace,
        new_pacing_rank=new_pace,
        change=change,
        verdict=verdict,
        base_straggler=base.straggler["rank"] if base.straggler else None,
        new_straggler=new.straggler["rank"] if new.straggler else None,
        base_verdict=base.verdict,
        new_verdict=new.verdict,
        ranks=_rank_rows(base, new),
        explanation=[],
        notes=notes,
    )
    result.explanation = _explain(result)
    return result
