"""Each side of a comparison: its traces opened, its request files joined, and what it ran summarised.

Kept apart from the gate itself so that `compare()` reads as the order of work; errors here name the side
("base: ...") because a user passing five paths needs to know which one failed.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import CompareError, InferScopeError
from .result import Side
from .samples import RunData


def as_list(x, role: str) -> list:
    items = list(x) if isinstance(x, (list, tuple)) else [x]
    if not items:
        raise CompareError(f"no {role} trace given")
    return items


def open_traces(items: list, role: str, cache_dir, use_cache: bool) -> list:
    from ..engine.trace import Trace, open_trace

    from .saved import refuse_as_trace

    out = []
    for item in items:
        if isinstance(item, Trace):
            out.append(item)
            continue
        refuse_as_trace(Path(item), role)
        try:
            out.append(open_trace(item, cache_dir=cache_dir, use_cache=use_cache, progress=False))
        except InferScopeError as exc:
            raise type(exc)(f"{role}: {exc}") from exc
    return out


def attach_requests(traces: list, requests, role: str) -> None:
    """Join each trace to its load generator's request file: one file for all of a side's traces, or one each."""
    if requests is None:
        return
    files = list(requests) if isinstance(requests, (list, tuple)) else [requests]
    if len(files) == 1:
        files = files * len(traces)
    if len(files) != len(traces):
        raise CompareError(
            f"{role}: {len(files)} request files for {len(traces)} traces; give one file, or one per trace in order"
        )
    for trace, path in zip(traces, files):
        try:
            trace.attach_requests(path)
        except InferScopeError as exc:
            raise type(exc)(f"{role}: {exc}") from exc


def summary(runs: list[RunData]) -> Side:
    return Side(
        [r.path for r in runs],
        [r.format for r in runs],
        sorted({g for r in runs for g in r.gpus}),
        [r.kernels for r in runs],
        [r.steps for r in runs],
        [r.window_ns for r in runs],
    )


def counts_only(traces: list) -> list[RunData]:
    """Counts only (for a result that stops at the hardware check)."""
    from .samples import window

    return [window(t) for t in traces]
