"""The Python API's central object, `inferscope.Trace`: an opened trace that can also analyse and show itself.

The data side (tables, SQL, stats) is `inferscope.engine.trace.Trace`; this subclass adds what needs the stages
above the engine: analysis, metrics and the notebook display. It sits above them all, below only the CLI, which
is a thin layer over it, so anything a command prints a notebook can get as Arrow or pandas.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from .engine import trace as _engine_trace

if TYPE_CHECKING:
    from .analyze.result import Analysis, Metric

# The stages above the engine are imported when first used: `inferscope stats` and `query` open traces through
# here and must not pay for pyarrow, pandas or Jinja.


class Trace(_engine_trace.Trace):
    """A trace converted to the InferScope trace model (see `inferscope.model` and docs/trace-model.md).

    Create it with `inferscope.open(path)`. Tables are read lazily from the cache; `sql()` runs DuckDB SQL over
    the model tables and the views in sql/views/.
    """

    def analyze(
        self,
        rules_dirs=(),
        params: dict[str, dict] | None = None,
        step_patterns=None,
        evidence_rows: int = 50,
        phase_patterns: dict[str, list[str]] | None = None,
        requests: str | Path | None = None,
        window=None,
        skip_warmup: bool = False,
        comm_patterns: dict[str, list[str]] | None = None,
        serving_patterns: list[str] | None = None,
    ) -> "Analysis":
        """Metrics, ranked findings and per-step rows (`inferscope.analyze.result.Analysis`).

        rules_dirs: extra directories of rule .sql files; params: {rule_id: {param: value}} overriding header
        defaults; step_patterns: regular expressions naming step ranges, replacing the defaults;
        evidence_rows: evidence rows per finding kept in the JSON form; phase_patterns: {phase: [regex, ...]}
        naming the ranges of each phase (steps take the phase they overlap most), replacing the built-in
        prefill/decode patterns of sql/views/phase_ranges.sql; requests: a load generator's request file (AIPerf
        profile_export.jsonl, GenAI-Perf profile_export.json) to join to the trace (`attach_requests`), which adds
        the serving block and rules; without it, a bundle recorded with `--requests` joins the file it carries;
        window: analyse only this part of the trace, as text ('1.5s:3s', '200ms:', ':10s'; times since the trace
        start) or (start_ns, end_ns) on that clock; skip_warmup: start each process where its warm-up window ends
        (view warmup, rule cold_start). With either, `Analysis.window` says which part was analysed; the trace
        itself is whole again afterwards (`Trace.window()` keeps it clipped for your own queries);
        comm_patterns: {family: [regex, ...]} over the built-in communication kernel families
        (docs/communication.md; an empty list drops a family); serving_patterns: regular expressions naming
        your own serving engine's scheduler steps, with named groups prefill_requests, prefill_tokens,
        decode_requests, decode_tokens and kind (docs/serving.md), read before the built-in engines' namings.
        """
        from .analyze import run

        if requests is not None:
            self.attach_requests(requests)
        else:
            self.attach_bundled_requests()
        with self.window(window, skip_warmup) as used:
            analysis = run(
                self,
                rules_dirs,
                params,
                step_patterns,
                evidence_rows,
                phase_patterns,
                comm_patterns,
                serving_patterns=serving_patterns,
            )
        if used is not None:
            analysis.window = used.to_dict()
        return analysis

    def use_patterns(
        self,
        step_patterns=None,
        phase_patterns: dict[str, list[str]] | None = None,
        comm_patterns: dict[str, list[str]] | None = None,
        serving_patterns: list[str] | None = None,
    ) -> None:
        """Make `sql()` and `rows()` see steps, phases, communication kernels and serving steps as `analyze()`
        with the same patterns would (arguments as there): `inferscope query` calls it with the configuration's
        patterns, so that a query of `steps` agrees with the analysis of the same trace."""
        from .analyze import prepare

        prepare(self, step_patterns, phase_patterns, comm_patterns, serving_patterns)

    def metrics(
        self,
        step_patterns=None,
        phase_patterns: dict[str, list[str]] | None = None,
        comm_patterns: dict[str, list[str]] | None = None,
    ) -> "list[Metric]":
        """The metrics of `analyze()` without running the rules (ids listed in docs/metrics.md)."""
        from .analyze import compute_metrics

        return compute_metrics(self, step_patterns, phase_patterns, comm_patterns)

    def _repr_html_(self) -> str:
        from .render import notebook

        return notebook.trace_html(self.summary())


def open_trace(
    path: str | Path, *, cache_dir: str | Path | None = None, use_cache: bool = True, progress: bool | None = None
) -> Trace:
    """`inferscope.engine.trace.open_trace` (every format, the cache, errors), returning the public Trace."""
    return _engine_trace._open(path, Trace, cache_dir=cache_dir, use_cache=use_cache, progress=progress)


if "IPython" in sys.modules:  # a notebook or IPython session: show analyses there as HTML
    from .render import notebook

    notebook.register_display()
