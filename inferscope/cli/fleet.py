"""`inferscope analyze RANK_TRACES...`: several rank traces of one job analysed as a fleet (issue 23); and
`inferscope compare --fleet BASE NEW`, two fleets gated on the job's step time.

Reached from `analyze` when it is given more than one trace, a glob, or --fleet, and from `compare --fleet`; thin
calls into `inferscope.fleet.analyze_fleet` and `inferscope.comparison.fleet`, with one progress line per rank on
stderr.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from ..errors import QueryError, visible


def wants_fleet(traces: list[Path], fleet: bool) -> bool:
    """Several traces or a glob make a fleet; one path stays the single-trace analysis unless --fleet asks."""
    from ..fleet.inputs import is_glob

    return fleet or len(traces) > 1 or any(is_glob(t) for t in traces)


def run_fleet(
    traces: list[Path],
    fmt: str | None,
    output: Path | None,
    scheduler: str | None,
    workers: int | None,
    cache_dir: Path | None,
    no_cache: bool,
) -> None:
    from ..fleet import analyze_fleet
    from ..outputs import format_for_suffix
    from ..render import fleet as render_fleet

    if no_cache:
        raise QueryError("--no-cache cannot be used with several ranks: the ranks meet in the cache's Parquet")
    chosen = fmt or (format_for_suffix(output, render_fleet.SUFFIXES) if output is not None else "terminal")
    if chosen not in render_fleet.FORMATS:
        raise QueryError(f"unknown format {chosen!r} for a fleet; choose from {', '.join(render_fleet.FORMATS)}")

    result = analyze_fleet(traces, cache_dir=cache_dir, scheduler=scheduler, workers=workers, progress=_progress())
    _emit(render_fleet.render(result, chosen), output)


def _emit(text: str, output: Path | None) -> None:
    """The report to -o's file, all or nothing and said on stderr, else to stdout: both fleet commands end so."""
    if output is None:
        sys.stdout.write(text)
        return
    from ..outputs import write_text

    write_text(output, text)


def _progress(side: str | None = None):
    def say(message: str) -> None:
        typer.echo(f"inferscope: {side + ': ' if side else ''}{visible(message)}", err=True)

    return say


def run_fleet_compare(
    base: list[Path],
    new: list[Path],
    *,
    threshold: float,
    fmt: str | None,
    output: Path | None,
    allow_world_size_change: bool,
    scheduler: str | None,
    workers: int | None,
    cache_dir: Path | None,
) -> int:
    """Analyse (or load) both fleets, gate, write the report; returns the exit code."""
    from ..comparison.fleet import compare_fleets, open_fleet
    from ..errors import CompareError
    from ..fleet import analyze_fleet
    from ..outputs import format_for_suffix
    from ..render import fleet_compare

    chosen = fmt or (format_for_suffix(output, {".md": "md", ".json": "json"}) if output is not None else "md")
    if chosen not in fleet_compare.FORMATS:
        raise CompareError(f"unknown format {chosen!r} for --fleet; use md or json")

    def analyse(side: str):
        def run(items: list[Path]):
            return analyze_fleet(
                items, cache_dir=cache_dir, scheduler=scheduler, workers=workers, progress=_progress(side)
            )

        return run

    def label(items: list[Path]) -> str:
        return str(items[0]) if len(items) == 1 else f"{items[0]} and {len(items) - 1} more"

    result = compare_fleets(
        open_fleet(base, analyse("base")),
        open_fleet(new, analyse("new")),
        threshold=threshold,
        base_label=label(base),
        new_label=label(new),
        allow_world_size_change=allow_world_size_change,
    )
    _emit(fleet_compare.render(result, chosen), output)
    if not result.comparable:
        sys.stderr.write(f"inferscope: not comparable: {visible(result.notes[0])}\n")
    return result.exit_code()
