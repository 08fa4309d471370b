"""`inferscope.compare(base, new)`: open both sides' traces, judge the primary metrics, explain the rest.

The orchestration only, in the order of work: open each side (`sides`), read what each ran on (`environment`; a
GPU model or count change is "not comparable" unless declared intended), collect each quantity's samples per
trace (`samples`), judge every row with the primary metrics gating at a Bonferroni-corrected level (`gating`,
`primary`, `verdict`), rank everything else by how much of the step-time change it accounts for and say what
work changed (`explain`), add the notes (`notes`), and return a `result.Comparison`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence, Union

from ..errors import CompareError
from . import baseline, explain, sides
from . import environment as env
from .gating import kernel_shares, measure_rows
from .notes import add_notes, check_common, serving_on_both_sides
from .quality import note as quality_note
from .result import Comparison, row_order
from .samples import add_analysis_series, extract

TraceLike = Union[str, Path, "Trace"]  # noqa: F821


def compare(
    base: TraceLike | Sequence[TraceLike],
    new: TraceLike | Sequence[TraceLike],
    *,
    threshold: float = 0.05,
    metrics: Sequence[str] | None = None,
    strip_templates: bool = False,
    min_share: float = 0.005,
    confidence: float = 0.95,
    allow_hardware_change: bool = False,
    allow_different_gpus: bool | None = None,
    analysis_metrics: bool = True,
    step_patterns: Sequence[str] | None = None,
    phase_patterns: dict[str, list[str]] | None = None,
    comm_patterns: dict[str, list[str]] | None = None,
    serving_patterns: Sequence[str] | None = None,
    cache_dir: str | Path | None = None,
    use_cache: bool = True,
    resamples: int = 1000,
    window=None,
    skip_warmup: bool = False,
    base_requests=None,
    new_requests=None,
    save_base: str | Path | None = None,
    save_new: str | Path | None = None,
) -> Comparison:
    """Compare a new build's trace(s) against a base: the primary metrics gate, the rest explains them.

    `base` and `new` are each a path, an opened Trace, or a list of them (repeats of the same run: more repeats,
    tighter noise estimate). `threshold` is the relative change that counts (0.05 = 5 %). By default the primary
    metrics gate (step time, throughput, GPU time per step, per-call time of the kernels that make up most of the
    GPU time; see `primary`); `metrics` (glob patterns of metric ids) names what gates instead and limits the
    comparison to it. `allow_hardware_change` (alias `allow_different_gpus`) compares across GPU models or
    counts, stating it; without it such a comparison comes back "not comparable" (exit code 2) without being
    computed. `analysis_metrics=False` skips the analysis engine's metrics (the slow part on big traces);
    `step_patterns` (regular expressions) name the step ranges; `phase_patterns` ({phase: [regex, ...]}) name
    the phases of the per-phase metrics; `comm_patterns` ({family: [regex, ...]}, the [communication]
    configuration) change which kernels are communication, as they do for `analyze`, so the analysis metrics are
    those of the report and the derived tables `analyze` stored are read, not computed again; `serving_patterns`
    (the [serving] step_patterns) name the project's own scheduler steps, whose token counts then give time per
    token as vLLM's step names do. `window` ('1.5s:3s', '200ms:', ':10s': times since each trace's start)
    and `skip_warmup` (each process from the end of its warm-up window) compare that part of every trace; the
    notes say which part. `base_requests` / `new_requests` (a load generator's request file, AIPerf
    profile_export.jsonl: one per side or one per trace) join each side's requests to its traces, and TTFT,
    inter-token latency (p50, p99) and output tokens/s then gate too.

    A side may be a saved baseline (`baseline`: a Parquet file of its samples) instead of its traces, and
    `save_base` / `save_new` write one for that side once the comparison succeeded, so CI can keep main's samples
    rather than main's traces. Raises CompareError when nothing can be compared, for a baseline saved with other
    settings, and TraceInputError for unreadable input.
    """
    if allow_different_gpus is not None:
        allow_hardware_change = allow_hardware_change or allow_different_gpus
    if not 0 < threshold < 1:
        raise CompareError(f"threshold {threshold:g} is out of range; give a fraction such as 0.05 (5 %)")
    if not 0.5 <= confidence < 1:
        raise CompareError(f"confidence {confidence:g} is out of range; use e.g. 0.95")
    if isinstance(serving_patterns, str):  # one pattern given bare, as Trace.analyze takes it
        serving_patterns = [serving_patterns]
    wanted = baseline.settings(
        strip_templates,
        analysis_metrics,
        step_patterns,
        phase_patterns,
        window,
        skip_warmup,
        comm_patterns,
        serving_patterns,
    )
    options = dict(
        threshold=threshold,
        metrics=metrics,
        strip_templates=strip_templates,
        min_share=min_share,
        confidence=confidence,
        allow_hardware_change=allow_hardware_change,
        analysis_metrics=analysis_metrics,
        step_patterns=list(step_patterns) if step_patterns else None,
        phase_patterns=dict(phase_patterns) if phase_patterns else None,
        comm_patterns=dict(comm_patterns) if comm_patterns else None,
        serving_patterns=list(serving_patterns) if serving_patterns else None,
        resamples=resamples,
        saves={"base": save_base, "new": save_new},
        wanted=wanted,
    )
    inputs: list[_Input] = []
    try:
        for role, side, requests in (("base", base, base_requests), ("new", new, new_requests)):
            items = sides.as_list(side, role)
            saved = baseline.from_side(items, role, wanted, requests)
            traces = [] if saved else sides.open_traces(items, role, cache_dir, use_cache)
            inputs.append(_Input(role, traces, saved, owned=[t for t, item in zip(traces, items) if t is not item]))
            sides.attach_requests(traces, requests, role)
        return _windowed(inputs, window, skip_warmup, options)
    finally:
        for inp in inputs:
            inp.release()


def _windowed(inputs: list, window, skip_warmup: bool, options: dict) -> Comparison:
    if window is None and not skip_warmup:
        return _judge(*inputs, **options)
    from contextlib import ExitStack

    with ExitStack() as stack:  # every trace clipped for the whole comparison, then whole again
        for inp in inputs:
            for t in inp.traces:
                w = stack.enter_context(t.window(window, skip_warmup))
                inp.windows.append(w.describe() if w is not None else None)
        result = _judge(*inputs, **options)
    result.notes.extend(f"window: {inp.role} {name}: {w}" for inp in inputs for name, w in inp.described() if w)
    return result


class _Input:
    """One side as given: opened traces, or a saved baseline standing in for them."""

    def __init__(self, role: str, traces: list, saved: baseline.Baseline | None, owned: list):
        self.role, self.traces, self.saved = role, traces, saved
        # Traces compare opened itself (not the caller's): each is closed as soon as its samples are taken, so a
        # comparison of many repeats holds one trace's DuckDB memory at a time, not one memory cap per trace.
        self.owned = owned
        self.windows: list[str | None] = []  # per trace, the part compared in words (set under --window)
        self._environments: list[dict] | None = None
        self._quality: list[dict] | None = None

    def environments(self) -> list[dict]:
        if self.saved:
            return [s.environment for s in self.saved.runs]
        if self._environments is None:
            self._environments = [env.environment(t) for t in self.traces]
        return self._environments

    def quality(self) -> list[dict]:
        if self.saved:
            return [s.quality for s in self.saved.runs]
        if self._quality is None:
            self._quality = [t.quality() for t in self.traces]
        return self._quality

    def release(self) -> None:
        for t in self.owned:
            t.close()

    def names(self) -> list[str]:
        if self.saved:
            return [Path(s.run.path).name for s in self.saved.runs]
        return [t.path.name for t in self.traces]

    def described(self) -> list[tuple[str, str | None]]:
        """(trace name, the part of it compared), for the window notes."""
        if self.saved:
            return [(Path(s.run.path).name, s.window) for s in self.saved.runs]
        return list(zip(self.names(), self.windows or [None] * len(self.traces)))

    def counts(self):
        return self.saved.fresh_runs() if self.saved else sides.counts_only(self.traces)

    def runs(self, options: dict) -> tuple[list, baseline.Snapshot | None]:
        """The side's samples, and a snapshot of them when the side is to be saved as a baseline."""
        if self.saved:
            runs = self.saved.fresh_runs()
        else:
            o = options
            self.environments(), self.quality()  # read (and kept) before the traces are closed
            runs = []
            for t in self.traces:
                runs.append(
                    extract(
                        t,
                        o["strip_templates"],
                        o["analysis_metrics"],
                        o["step_patterns"],
                        o["phase_patterns"],
                        o["comm_patterns"],
                        o["serving_patterns"],
                    )
                )
                if any(t is mine for mine in self.owned):
                    t.close()
        if not options["saves"].get(self.role):
            return runs, None
        windows = [w for _, w in self.described()]
        return runs, baseline.Snapshot(runs, self.environments(), self.quality(), windows, options["wanted"])


def _save(snapshots: list, options: dict) -> None:
    for role, snap in snapshots:
        if snap is not None:
            snap.write(options["saves"][role])


def _judge(
    b_in: _Input,
    n_in: _Input,
    *,
    threshold,
    metrics,
    strip_templates,
    min_share,
    confidence,
    allow_hardware_change,
    analysis_metrics,
    step_patterns,
    phase_patterns,
    comm_patterns,
    serving_patterns,
    resamples,
    saves,
    wanted,
) -> Comparison:
    """The comparison proper, over sides already opened (and clipped to their window)."""
    options = dict(
        strip_templates=strip_templates,
        analysis_metrics=analysis_metrics,
        step_patterns=step_patterns,
        phase_patterns=phase_patterns,
        comm_patterns=comm_patterns,
        serving_patterns=serving_patterns,
        saves=saves,
        wanted=wanted,
    )
    b_env, n_env = b_in.environments(), n_in.environments()
    hardware = env.hardware_change(b_env, n_env)
    notes: list[str] = [n for n in (env.unrecorded(b_env, n_env),) if n]
    notes.extend(inp.saved.note(inp.role) for inp in (b_in, n_in) if inp.saved)
    for inp in (b_in, n_in):  # rows left out as impossible, per side
        notes.extend(n for name, q in zip(inp.names(), inp.quality()) if (n := quality_note(inp.role, name, q)))
    common = dict(
        threshold=threshold,
        confidence=confidence,
        min_share=min_share,
        strip_templates=strip_templates,
        environment=env.diff(b_env, n_env),
        hardware_change=hardware,
        hardware_change_allowed=bool(hardware and allow_hardware_change),
    )
    if hardware and not allow_hardware_change:
        # a side to be saved is still sampled: a baseline of a run on other hardware is a baseline all the same
        _save([(inp.role, inp.runs(options)[1]) for inp in (b_in, n_in) if saves.get(inp.role)], options)
        c = Comparison(
            sides.summary(b_in.counts()),
            sides.summary(n_in.counts()),
            metric_confidence=confidence,
            tests=0,
            metrics=[],
            notes=notes,
            **common,
        )
        c.summary = f"{hardware}; pass --allow-hardware-change if the change is intended"
        return c
    if hardware:
        notes.append(f"hardware changed ({hardware}): compared as declared intended (--allow-hardware-change)")
    b_runs, b_snap = b_in.runs(options)
    n_runs, n_snap = n_in.runs(options)
    serving_on_both_sides(b_runs, n_runs, notes)
    per_step = all(r.steps for r in b_runs + n_runs)
    for r in b_runs + n_runs:
        add_analysis_series(r, per_step)
    rows, level, tests, per_step_totals = measure_rows(
        b_runs, n_runs, metrics, threshold, confidence, min_share, resamples
    )
    if metrics and not rows:
        known = ", ".join(sorted({sid[0] for r in b_runs + n_runs for sid in r.series}))
        raise CompareError(f"no metric matches {', '.join(metrics)}; metric ids here: {known}")
    if not metrics:
        check_common(rows, b_runs, n_runs)
    elif not any(r.base_runs and r.new_runs for r in rows):
        raise CompareError(f"no metric matching {', '.join(metrics)} is present in both base and new")
    explain.attach(rows, per_step_totals)
    rows.sort(key=row_order)
    new_shares = kernel_shares(n_runs)
    work = explain.work_changes(
        rows,
        [r.steps for r in b_runs],
        [r.steps for r in n_runs],
        threshold,
        new_shares,
        min_share,
        ([r.shapes for r in b_runs], [r.shapes for r in n_runs]),
    )
    add_notes(notes, rows, b_runs, n_runs, strip_templates)
    c = Comparison(
        sides.summary(b_runs),
        sides.summary(n_runs),
        metric_confidence=level,
        tests=tests,
        metrics=rows,
        notes=notes,
        work_changes=work,
        **common,
    )
    c.summary = explain.summary(rows, per_step_totals, work)
    _save([("base", b_snap), ("new", n_snap)], options)
    return c
