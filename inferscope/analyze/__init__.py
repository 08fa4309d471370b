"""The analysis engine behind `Trace.analyze()` and `inferscope analyze`.

Order of work: materialise the derived views the metrics and rules share (so a 1M-kernel trace sweeps its
intervals once, not once per rule), compute metrics (sql/metrics), run rules (sql/rules + user dirs), rank the
findings and write the headline. The SQL files are the definitions; this package only schedules them and turns
rows into the objects of `inferscope.analyze.result`, plain data that renderers read.

Stage 4: may import the ground modules, `inferscope.ingest` and `inferscope.engine`; nothing above.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Callable, Mapping, Sequence

from .result import Analysis, Metric
from ..engine import derived_tables as _derived
from ..errors import QueryError
from . import interval_union as _interval_union
from . import rule_files as _rule_files
from . import serving as _serving
from . import stored_analysis as _stored

# The modules that compute an analysis (metrics, rules, headline) are imported when one is computed: a stored
# analysis needs none of them, and rule_findings alone brings pyarrow.compute (~50 ms of a 0.6 s warm run).

if TYPE_CHECKING:
    from ..engine.trace import Trace

# Derived views worth computing once per analysis, in dependency order. A temporary table with a view's name
# shadows the view for every later query on the connection, so later views and rules read the stored rows.
MATERIALIZE = (
    "gpu_ops",
    "cuda_launches",
    "gpu_busy",
    "gpu_idle_gaps",
    "gpu_device_summary",
    "sync_calls",
    "sync_stalls",
    "api_busy_by_thread",
    "gpu_idle_causes",
    "step_matches",
    "step_ranges",
    "gpu_busy_by_pid",
    "steps",
    "step_summary",
    "warmup",  # the warm-up window: read by idle_ledger, the cold_start rule, the steady-state split and the report
    # each gap's cause and evidence, read seven times by idle_ledger: as a table each read scans its own columns
    "idle_verdicts",
    "idle_ledger",  # reads the warm-up window, which reads the steps
    "gpu_exposed",
    # GPU hardware metrics (empty without them): the per-kernel figures several rules read
    "gpu_metrics_by_kernel",
    "busy_ledger",  # the busy time of GPUs with metrics, one owner per kernel name (reads gpu_metrics_by_kernel)
    # a running total per memory event, read ~5 times by the memory metrics alone (memory_peak, memory_churn,
    # memory_allocations) and again by the memory rules and the report's chart
    "memory_timeline",
    # HTA's GPU operations, their coverage sweep and launch pairs: hta.sql reads them 3, 3 and 2 times (through
    # hta_temporal_breakdown, hta_comm_comp_overlap, hta_input_pipeline_steps, ...); stored, that query plans over
    # three tables instead of re-planning each stack (0.24 -> 0.07 s on the 14.5k-kernel H200 eager decode trace)
    "hta_gpu_ops",
    "hta_gpu_coverage",
    "hta_launch_calls",
)
# Only the step figures need these; without step markers they are left as (unused) views.
STEP_ONLY = ("gpu_busy_by_pid", "steps", "step_summary")
# Materialised but not stored with the cache: writing them cost as much as computing them again (1M kernels,
# Parquet v2: cuda_launches 0.71 s to store against 0.50 s to compute, hta_gpu_ops 0.39 / 0.41 s,
# hta_launch_calls 0.29 / 0.33 s), so a later analysis computes them from the stored tables they read; idle_verdicts
# is read only to make idle_ledger, which is stored.
NOT_STORED = ("cuda_launches", "idle_verdicts", "hta_gpu_ops", "hta_launch_calls")


def prepare(
    trace: "Trace",
    step_patterns: Sequence[str] | None = None,
    phase_patterns: Mapping[str, Sequence[str]] | None = None,
    comm_patterns: Mapping[str, Sequence[str]] | None = None,
    serving_patterns: Sequence[str] | None = None,
    lazy: bool = False,
    store_later: bool = False,
) -> "Callable | None":
    """Make the trace's queries see the derived tables for these patterns: stored ones read (as views over their
    files with `lazy`, for a few queries after a stored analysis), else computed and stored. `store_later`: return
    the storing as `store(con)` instead (None when nothing is to be stored), for the caller to run on a connection
    of its choice beside its own queries."""
    engine = trace.engine
    con = engine.con
    # Dropped on the raw connection: through `con`, each name a DROP mentions would first create its view and every
    # view below it, each bound over the whole stack down to the model (~1 s of planning on a 3k-kernel trace),
    # before the tables that shadow them exist. Created later, a view binds over the stored tables below it.
    engine.drop_temporary((*MATERIALIZE, "phase_ranges", "comm_kernel_patterns", "serving_step_names"))
    if serving_patterns:  # read only by the serving views, none of them stored: not part of the cache key
        use_serving_patterns(trace, serving_patterns)
    if comm_patterns:  # before gpu_ops, which reads it through comm_kernels
        engine.create_table("comm_kernel_patterns", _custom_comm_patterns(con, comm_patterns))
    if phase_patterns:
        engine.create_table("phase_ranges", _custom_phase_ranges(con, phase_patterns))
    # A warm run reads the tables an earlier run stored with the cached model (engine/derived_tables.py).
    key = _derived.key(engine, _shape(step_patterns, phase_patterns, comm_patterns), MATERIALIZE)
    loaded = _derived.load(engine, trace.cache_entry, key, lazy=lazy)
    if loaded is not None and lazy:  # the few queries that follow read the tables not stored through their views
        return
    from . import query_workers as _query_workers

    jobs = [_job(engine, name, step_patterns) for name in MATERIALIZE if loaded is None or name not in loaded]
    _query_workers.materialize(engine, jobs)
    if loaded is None:
        names = [n for n in MATERIALIZE if n not in NOT_STORED]
        if store_later:
            return lambda con: _derived.save(engine, trace.cache_entry, key, names, con)
        _derived.save(engine, trace.cache_entry, key, names)
    return None


def _job(engine, name: str, step_patterns):
    """How derived table `name` is made, and the derived tables it reads (through the views its definition
    names, transitively: a name read only as a column's word costs a wait, never a wrong table)."""
    from .query_workers import Job

    after = engine.mentioned(f"SELECT * FROM main.{name}", among=MATERIALIZE) - {name}
    if name in STEP_ONLY:
        after |= {"step_ranges"}  # read to tell whether there are steps at all
    if name in _interval_union.UNIONS:
        return Job(
            name, lambda con: _interval_union.materialize(engine, name) or _made(engine, con, name), after, own=True
        )
    if name == "step_matches" and step_patterns:
        select = _custom_step_matches(engine.con, step_patterns)  # patterns checked here, before any table is made
        return Job(name, lambda con: _made(engine, con, name, select), after)

    def make(con) -> bool:
        if name in STEP_ONLY and not con.execute("SELECT count(*) FROM step_ranges").fetchall()[0][0]:
            # no step markers: skip the per-step joins over every launch and range
            return name != "gpu_busy_by_pid" and _made(engine, con, name, f"SELECT * FROM main.{name} WHERE false")
        return _made(engine, con, name)

    return Job(name, make, after)


def _made(engine, con, name: str, select: str | None = None) -> bool:
    """Derived table `name` from `select` (default: its view), made on `con` (the engine's or a worker); its views
    are created there, bound over the tables made before it (Engine.prepare)."""
    engine.create_table(name, select or f"SELECT * FROM main.{name}", con=con)
    return True


def _shape(step_patterns, phase_patterns, comm_patterns) -> dict:
    """What the caller passes that shapes the derived tables (part of their key)."""
    return {
        "materialize": MATERIALIZE,
        "step_only": STEP_ONLY,
        "step_patterns": list(step_patterns or ()),
        "phase_patterns": [[k, list(v)] for k, v in (phase_patterns or {}).items()],  # order decides ties
        "comm_patterns": [[k, list(v)] for k, v in (comm_patterns or {}).items()],
    }


def _regex_test(con, patterns: Sequence[str], option: str) -> str:
    """`regexp_matches(name, ...) OR ...` over literal patterns (DuckDB compiles a constant pattern once per
    query), after checking each with RE2 so that a bad one is named, not reported as an SQL error."""
    import duckdb

    for p in patterns:
        try:
            con.execute("SELECT regexp_matches('', $p)", {"p": p}).fetchall()
        except duckdb.Error as exc:
            raise QueryError(f"{option} {p!r}: not a valid regular expression ({str(exc).splitlines()[0]})") from None
    return " OR ".join(f"regexp_matches(name, '{p.replace(chr(39), chr(39) * 2)}')" for p in patterns)


def _custom_comm_patterns(con, patterns: Mapping[str, Sequence[str]]) -> str:
    """A temporary comm_kernel_patterns (columns of sql/views/comm_kernel_patterns.sql): the built-in families,
    with each family named in `patterns` replaced by its regexes (an empty list drops it) and new families added
    after them. Every regex is checked with RE2 first, so a bad one is named."""
    for family, regexes in patterns.items():
        _regex_test(con, list(regexes), f"communication family {family!r}:")

    def q(text: str) -> str:
        return "'" + str(text).replace("'", "''") + "'"

    rows = [
        f"({q(family)}, {q(p)}, {1000 + i}, 'from the [communication] configuration')"
        for i, (family, regexes) in enumerate(patterns.items())
        for p in regexes
    ]
    named = ", ".join(q(f) for f in patterns)
    own = f" UNION ALL SELECT * FROM (VALUES {', '.join(rows)}) AS c(family, pattern, priority, what)" if rows else ""
    return f"SELECT family, pattern, priority, what FROM main.comm_kernel_patterns WHERE family NOT IN ({named}){own}"


def _custom_serving_step_names(con, patterns: Sequence[str]) -> str:
    """A temporary serving_step_names (columns of sql/views/serving_step_names.sql): the built-in engines' steps,
    less the ranges a user pattern matches, plus one row per such range from the first pattern that matches it, so
    a project's own naming wins over a built-in one that happens to match the same range. Each pattern is checked
    first (Python's parser for its group names, RE2 for what DuckDB will run), so a bad one is named up front."""
    from ..config import SERVING_GROUPS, SERVING_KIND_WORDS, serving_pattern_groups

    def q(text: str) -> str:
        return "'" + str(text).replace("'", "''") + "'"

    if isinstance(patterns, str):  # one pattern passed bare would otherwise be read character by character
        patterns = [patterns]
    kinds = " ".join(f"WHEN {q(word)} THEN {q(kind)}" for word, kind in SERVING_KIND_WORDS.items())
    selects, tests = [], []
    for p in patterns:
        try:
            groups = serving_pattern_groups(p)
        except ValueError as exc:
            raise QueryError(f"serving step pattern: {exc}") from None
        test = _regex_test(con, [p], "serving step pattern")
        field = {}
        for group, column in SERVING_GROUPS.items():
            idx = groups.get(group)
            field[column] = f"nullif(regexp_extract(name, {q(p)}, {idx}), '')" if idx else "CAST(NULL AS VARCHAR)"
        mode = f"CASE lower({field['mode']}) {kinds} END" if "kind" in groups else "CAST(NULL AS VARCHAR)"
        earlier = "".join(f" AND NOT {t}" for t in tests)
        # a kind group that captured a word outside SERVING_KIND_WORDS labels nothing: the range is left out
        known = f" AND ({mode}) IS NOT NULL" if "kind" in groups else ""
        selects.append(
            f"SELECT range_id, pid, tid, start_ns, end_ns, dur_ns, {field['n']}, {field['t']}, {field['m']}, "
            f"{field['g']}, {mode}, {q(f'user serving step pattern {p!r}')} "
            f"FROM nvtx_ranges WHERE category IS DISTINCT FROM 'gpu_user_annotation' AND dur_ns > 0 AND {test}"
            f"{earlier}{known}"
        )
        tests.append(test)
    return (
        "SELECT * FROM main.serving_step_names WHERE range_id NOT IN "
        f"(SELECT range_id FROM nvtx_ranges WHERE {' OR '.join(tests)}) UNION ALL " + " UNION ALL ".join(selects)
    )


def _custom_step_matches(con, patterns: Sequence[str]) -> str:
    """User patterns all share priority 1: every range matching any of them is a step."""
    test = _regex_test(con, patterns, "--step-pattern")
    return (
        "SELECT range_id, 1 AS priority FROM nvtx_ranges "
        f"WHERE category IS DISTINCT FROM 'gpu_user_annotation' AND dur_ns > 0 AND ({test})"
    )


def _custom_phase_ranges(con, patterns: Mapping[str, Sequence[str]]) -> str:
    """A temporary phase_ranges (same columns as sql/views/phase_ranges.sql) from {phase: [regex, ...]}; a range
    matching several phases takes the first phase in the mapping's order."""
    cases = []
    for phase, regexes in patterns.items():
        if not regexes:
            continue
        test = _regex_test(con, list(regexes), f"phase {phase!r}:")
        cases.append(f"WHEN {test} THEN '{str(phase).replace(chr(39), chr(39) * 2)}'")
    if not cases:
        return "SELECT * FROM main.phase_ranges WHERE false"
    return (
        "SELECT * FROM (SELECT range_id, pid, tid, start_ns, end_ns, "
        f"CASE {' '.join(cases)} END AS phase FROM nvtx_ranges "
        "WHERE category IS DISTINCT FROM 'gpu_user_annotation') WHERE phase IS NOT NULL"
    )


def use_serving_patterns(trace: "Trace", patterns: Sequence[str]) -> None:
    """Make the serving views (and compare's tokens per step) read the project's own engine namings before the
    built-in ones, without computing anything else: compare without analysis metrics needs only this."""
    trace.engine.create_table("serving_step_names", _custom_serving_step_names(trace.engine.con, patterns))


def compute_metrics(
    trace: "Trace",
    step_patterns: Sequence[str] | None = None,
    phase_patterns: Mapping[str, Sequence[str]] | None = None,
    comm_patterns: Mapping[str, Sequence[str]] | None = None,
    serving_patterns: Sequence[str] | None = None,
) -> list[Metric]:
    prepare(trace, step_patterns, phase_patterns, comm_patterns, serving_patterns)
    from . import metrics as _metrics

    return _metrics.compute(trace.engine.con)


def run(
    trace: "Trace",
    rules_dirs: Sequence[str] = (),
    params: dict[str, dict] | None = None,
    step_patterns: Sequence[str] | None = None,
    evidence_rows: int = 50,
    phase_patterns: Mapping[str, Sequence[str]] | None = None,
    comm_patterns: Mapping[str, Sequence[str]] | None = None,
    serving_patterns: Sequence[str] | None = None,
) -> Analysis:
    con = trace.engine.con
    rules, errors = _rule_files.discover(rules_dirs, builtin_extra=_serving.rule_dirs(con))
    values = _rule_files.resolve_params(rules, params)
    # The same inputs analysed before: its stored result, with the derived tables loaded only if asked for later
    derived = _derived.key(trace.engine, _shape(step_patterns, phase_patterns, comm_patterns), MATERIALIZE)
    stored_key = _stored.key(derived, rules, errors, values, serving_patterns)
    analysis = _stored.load(trace.cache_entry, stored_key)
    if analysis is not None:
        trace.engine.defer(
            lambda: prepare(trace, step_patterns, phase_patterns, comm_patterns, serving_patterns, lazy=True)
        )
        analysis.trace_path = str(trace.path)
        analysis.source_format = trace.meta.get("source_format", trace.format)
        analysis.evidence_rows = evidence_rows
        analysis.data_quality = trace.quality()
        return analysis
    from . import headline as _headline
    from . import metrics as _metrics
    from . import query_workers as _query_workers
    from . import rules as _rules

    store = prepare(trace, step_patterns, phase_patterns, comm_patterns, serving_patterns, store_later=True)
    devices = con.sql("SELECT * FROM gpu_device_summary ORDER BY device_id").to_arrow_table()
    basis = _rules.Basis(
        device_span_ns={r["device_id"]: r["span_ns"] or 0 for r in devices.to_pylist()},
        gpu_span_ns=con.execute("SELECT coalesce(max(end_ns) - min(start_ns), 0) FROM gpu_ops").fetchall()[0][0],
    )
    wins = _rules.warmup_windows(con, rules)
    # the metric files, the rules and the storing of the derived tables read the same tables and nothing of each
    # other's: spread over connections
    done = _query_workers.run(
        trace.engine,
        [_metrics.compute, store or (lambda con: None)]
        + [functools.partial(_rules.run_one, rule=r, values=values, basis=basis, wins=wins) for r in rules],
        statements=[h.body for _, h in _metrics.declarations()] + [r.sql for r in rules],
    )
    metrics = done[0]
    findings, runs, rule_errors = _rules.gather(done[2:])
    findings.sort(key=lambda f: (-f.impact_ns, ("high", "medium", "low", "info").index(f.severity), f.rule_id))
    steps = con.sql("SELECT * FROM steps ORDER BY step_id").to_arrow_table()
    analysis = Analysis(
        trace_path=str(trace.path),
        source_format=trace.meta.get("source_format", trace.format),
        headline="",
        metrics=metrics,
        findings=findings,
        steps=steps,
        devices=devices,
        rules=runs,
        rule_errors=errors + rule_errors,
        step_source=_step_source(con, step_patterns),
        evidence_rows=evidence_rows,
    )
    analysis.serving = _serving.section(con, trace.meta)  # None without a request file: outputs stay as they were
    analysis.headline = _headline.sentence(analysis)
    analysis.data_quality = trace.quality()  # the rows the conversion left out, so the numbers can say so
    _stored.save(trace.cache_entry, stored_key, analysis)
    return analysis


def _step_source(con, step_patterns) -> str | None:
    row = con.execute("SELECT count(*), min(name), any_value(priority) FROM step_ranges").fetchall()[0]
    if not row[0]:
        return None
    origin = "--step-pattern " + ", ".join(repr(p) for p in step_patterns) if step_patterns else "default patterns"
    return f"{row[0]} annotation ranges such as {row[1]!r} ({origin})"
