"""The one sentence that opens every analysis: what limits this trace.

It is built from metrics, not from the top finding alone, because findings measure different things (a sync's
exposed idle, a copy's duration) while the limiter is a statement about where the GPU's time went: busy on
kernels, busy on copies, or idle - and if idle, idle because of what.
"""

from __future__ import annotations

from .result import Analysis
from ..units import fmt_bytes, fmt_ns, fmt_pct

# The idle ledger's causes (sql/views/idle_ledger.sql, metrics in sql/metrics/idle_causes.sql): each idle
# nanosecond has exactly one, so the largest is the one a reader should hear first.
_CAUSES = {
    "idle_sync_ns": ("sync-bound", "passed while the host was blocked waiting for the GPU"),
    "idle_launch_ns": ("launch-bound", "passed while the host was issuing launches (CUDA calls, operator dispatch)"),
    "idle_host_ns": ("host-bound", "passed while the host did other CPU work before launching"),
    "idle_copy_ns": ("copy-bound", "passed while the host was inside copy calls"),
    "idle_load_ns": ("load-bound", "passed while the host loaded libraries or compiled kernels"),
    "idle_profiler_ns": ("profiler-bound", "went to the profiler's own overhead"),
    "idle_dependency_ns": ("dependency-bound", "passed with work waiting on another stream's event"),
    "idle_queued_ns": ("queue-latency-bound", "passed with work already queued and no recorded wait"),
    "idle_unknown_ns": ("unattributed", "has no evidence in the trace that explains it"),
}
# the rule that reports each cause's idle time (idle_ledger.owner), and the evidence column that names its culprit
_OWNERS = {
    "idle_sync_ns": ("sync_stall", ("context", "api_name")),
    "idle_launch_ns": ("launch_overhead", ()),
    "idle_host_ns": ("idle_gap_attribution", ("evidence",)),
    "idle_load_ns": ("idle_gap_attribution", ("evidence",)),
    "idle_dependency_ns": ("idle_gap_attribution", ("evidence",)),
}


def _culprit(a: Analysis, cause: str) -> str:
    """Where the ledger's largest cause points, from the evidence of the finding that owns it: the call and the
    code around it for waits, the annotation range or CPU function for host work. Empty when nothing names it."""
    owner, cols = _OWNERS.get(cause, (None, ()))
    f = next((f for f in a.findings if f.rule_id == owner), None)
    if f is None or not cols or not f.evidence.num_rows:
        return ""
    rows = f.evidence.to_pylist()
    if owner == "idle_gap_attribution":
        want = {"idle_host_ns": "host", "idle_load_ns": "load", "idle_dependency_ns": "dependency"}[cause]
        rows = [r for r in rows if r.get("cause") == want]
    if not rows:
        return ""
    top = max(rows, key=lambda r: r.get("impact_ns") or 0)
    parts = [str(top[c]) for c in cols if top.get(c) and not str(top[c]).startswith("(")]
    if not parts:
        return ""
    if owner == "sync_stall":
        return f" ({parts[-1]} inside {parts[0]})" if len(parts) == 2 else f" ({parts[0]})"
    text = parts[0]
    return f" ({text})" if text.startswith("CPU samples") else f" (mostly inside {text})"


def _without_gpu(a: Analysis) -> str:
    """The sentence for a trace with no GPU work. With Python samples (an `inferscope record` bundle, often
    --no-nsys) the samples are the whole story, so the sentence names the hottest function (rule
    python_hot_frames); a recording that lost its nsys report says so first, because then "no GPU work" may only
    mean "no GPU data" (rule bundle_incomplete)."""
    v = a.value
    lost = next((f for f in a.findings if f.rule_id == "bundle_incomplete"), None)
    hot = next((f for f in a.findings if f.rule_id == "python_hot_frames"), None)
    prefix = ""
    if lost is not None:
        first = lost.evidence.slice(0, 1).to_pylist()
        warning = first[0]["warning"] if first else "the recording is incomplete"
        prefix = f"{warning[:1].upper()}{warning[1:]}. "
    if hot is not None and hot.evidence.num_rows:
        top = hot.evidence.slice(0, 1).to_pylist()[0]
        share = top["self_share_pct"]
        how = "mostly" if share >= 50 else "in the largest share"
        where = f"{top['function']} ({top['file_name']}:{top['line']})"
        if top["counted"] != "on-CPU":  # too few samples on a CPU: the threads mostly slept or waited
            return (
                f"{prefix}No GPU work recorded; the Python threads were mostly idle (sleeping or waiting), "
                f"most often in {where}, {fmt_pct(share)} of {int(top['basis_samples']):,} samples."
            )
        return (
            f"{prefix}No GPU work recorded; Python time went {how} to {where}, {fmt_pct(share)} of "
            f"{int(top['basis_samples']):,} on-CPU samples."
        )
    if lost is not None:
        return f"{prefix}What remains holds no GPU work to analyse."
    steps = len(a.steps)
    return (
        "This trace has no GPU work (no kernels, copies or memsets), so nothing limits a GPU here; "
        f"it holds {int(v('api_call_count') or 0):,} CUDA API calls and {steps} "
        f"step{'' if steps == 1 else 's'}."
    )


# Start-up leads when it holds at least this share of an idle-dominated trace's GPU idle time: a steady-state
# limiter named for such a trace would be advice for a loop the trace barely shows.
_STARTUP_SHARE = 0.5
# Communication leads when collectives are at least this share of GPU busy time: then what the other ranks do sets
# this rank's pace as much as its own kernels and host. The corpus' distributed traces sit either side of it: 42-92 %
# where communication is the story, 30-36 % where it is one part of a busy step.
_COMM_SHARE = 0.4


def _startup(a: Analysis, busy: float, idle: dict, total_idle: float) -> str:
    """The sentence for a trace that is mostly start-up (module loading, JIT, handle creation, warm-up steps),
    from the cold_start finding or, where the loads were too short for a warm-up window, the idle ledger's load
    share. Only for idle-dominated traces: a busy trace with a slow first minute is still limited by its loop."""
    if busy >= 60 or total_idle <= 0:
        return ""
    cold = [f for f in a.findings if f.rule_id == "cold_start"]
    cold_idle = sum(f.impact_ns for f in cold)
    load = idle.get("idle_load_ns", 0)
    if cold and cold_idle >= _STARTUP_SHARE * total_idle:
        top = max(cold, key=lambda f: f.impact_ns)
        row = top.evidence.slice(0, 1).to_pylist()[0] if top.evidence.num_rows else {}
        what = f" ({row['evidence']})" if row.get("evidence") else ""
        until = (
            f"; analyse from {row['steady_from']} on (--skip-warmup) or profile a steady step"
            if row.get("steady_from")
            else ""
        )
        return (
            f"Mostly start-up: {fmt_ns(cold_idle)} of the {fmt_ns(total_idle)} GPU idle time "
            f"({fmt_pct(100 * cold_idle / total_idle)}) falls in the warm-up window{what}, so this trace shows "
            f"one-shot work, not a steady step{until}."
        )
    if load < _STARTUP_SHARE * total_idle:
        return ""
    share = load / total_idle
    return (
        f"Mostly start-up: {fmt_ns(load)} of the {fmt_ns(total_idle)} GPU idle time ({fmt_pct(100 * share)}) "
        f"passed while the host loaded libraries or compiled kernels{_culprit(a, 'idle_load_ns')}, one-shot work a "
        "steady step does not repeat; profile a later step to see what limits the loop."
    )


def _communication(a: Analysis, gpus: str, was: str, busy: float, span: str, tail: str) -> str:
    """The sentence for a rank whose GPU time is mostly collectives. Only a rank's own trace is read here, so it
    says that waiting for other ranks and the transfer itself cannot be told apart (the fleet analysis can)."""
    v = a.value
    comm = v("comm_busy_ns") or 0
    gpu_busy = v("gpu_busy_ns") or 0
    if gpu_busy <= 0 or comm < _COMM_SHARE * gpu_busy:
        return ""
    exposed = v("comm_exposed_ns") or 0
    bare = f", {fmt_ns(exposed)} of it with no compute beside it" if exposed > 0 else ""
    nccl = next((f for f in a.findings if f.rule_id == "nccl_exposed" and f.evidence.num_rows), None)
    several = nccl is not None and str(nccl.evidence.slice(0, 1).to_pylist()[0].get("skew_note", "")).startswith(
        "This trace holds several ranks"
    )
    who = "read GPU by GPU" if several else "from one rank's trace"
    return (
        f"Communication-heavy: collective kernels took {fmt_pct(100 * comm / gpu_busy)} of the GPU busy time "
        f"({fmt_ns(comm)} of {fmt_ns(gpu_busy)}{bare}; {gpus} {was} busy {fmt_pct(busy)} of the {span} active "
        f"span); {who}, waiting for a later rank and the transfer itself look the same, so analyse all ranks "
        f"together to tell skew from transfer{tail}."
    )


# The serving headline names head-of-line blocking for inter-token latency only when the slowest 1 % of token gaps
# mostly overlapped another request's prefill (at least this share) and did so clearly more often than the other
# gaps (at least _HOL_LIFT times their share): then the prefills, not the decode loop itself, make the tail.
_HOL_TAIL_SHARE = 50.0
_HOL_LIFT = 2.0


def _inter_token_tail(a: Analysis) -> str:
    """A second sentence when requests are attached and head-of-line blocking explains the slowest token gaps
    (view request_tail, rule serving_head_of_line): a limiter sentence about GPU time alone would hide the one
    thing a serving user sees, the stalls in the token stream. Empty when the tail overlaps prefills no more than
    the rest: then something else makes the slow gaps, and naming the prefills would be a false lead."""
    serving = a.serving or {}
    if not any(f.rule_id == "serving_head_of_line" for f in a.findings):
        return ""
    parts = {r["part"]: r for r in serving.get("tail", []) if r.get("metric") == "chunk_gap"}
    tail, rest = parts.get("tail"), parts.get("rest")
    if not tail or not rest or tail.get("prefill_overlap_pct") is None:
        return ""
    share, other = tail["prefill_overlap_pct"], rest.get("prefill_overlap_pct") or 0.0
    if share < _HOL_TAIL_SHARE or share < _HOL_LIFT * other:
        return ""
    return (
        f" Inter-token latency: the slowest 1 % of token gaps ({int(tail['n']):,}, each {fmt_ns(tail['p99_ns'])} or longer) "
        f"overlapped another request's prefill in {fmt_pct(share)} of cases vs {fmt_pct(other)} of the others "
        "(head-of-line blocking)."
    )


# The busy ledger's sentence follows the limiter when at least this share of the measured kernel time was not
# working (stalled, or GEMMs with idle Tensor Cores): below it the kernel time is mostly real work, and the
# sentence would only repeat "busy" in other words.
_NOT_WORKING_SHARE = 0.25


def _busy_split(a: Analysis) -> dict[str, float]:
    """The busy ledger's classes summed over the GPUs with hardware metrics (metrics busy_*_ns, per device);
    empty where no GPU has metrics."""
    split: dict[str, float] = {}
    for m in a.metrics:
        if m.id in ("busy_working_ns", "busy_stalled_ns", "busy_tensor_idle_ns") and m.value is not None:
            split[m.id] = split.get(m.id, 0.0) + m.value
    return split


def _busy_tail(a: Analysis) -> str:
    """A second sentence when the GPU's own counters say that a good part of the kernel time was not work: kernel
    timestamps call a resident kernel busy, so "GPU-bound" (or any share of busy time) would otherwise read as
    work done. The shares are of the kernel time the counters measured (busy ledger: executions at least one
    sampling period long), and each class has one owning rule, so the sentence and the findings agree."""
    split = _busy_split(a)
    working, stalled, idle_tc = (
        split.get(k, 0.0) for k in ("busy_working_ns", "busy_stalled_ns", "busy_tensor_idle_ns")
    )
    measured = working + stalled + idle_tc
    if measured <= 0 or stalled + idle_tc < _NOT_WORKING_SHARE * measured:
        return ""
    parts = []
    if stalled > 0:
        parts.append(f"{fmt_pct(100 * stalled / measured)} was resident but stalled (no unit at 30% of peak)")
    if idle_tc > 0:
        parts.append(f"{fmt_pct(100 * idle_tc / measured)} ran GEMMs with idle Tensor Cores")
    parts.append(f"{fmt_pct(100 * working / measured)} was working")
    listed = ", ".join(parts[:-1]) + " and " + parts[-1]
    return f" By the GPU's counters, of the {fmt_ns(measured)} of kernel time they measured, {listed}."


def sentence(a: Analysis) -> str:
    """The limiter sentence, followed where the GPU has hardware metrics by what its kernel time did, and where
    requests are attached by what made the token stream stall."""
    return _limiter(a) + _busy_tail(a) + _inter_token_tail(a)


def _limiter(a: Analysis) -> str:
    v = a.value
    ops = (v("kernel_count") or 0) + (v("memcpy_count") or 0) + (v("memset_count") or 0)
    if ops == 0:
        return _without_gpu(a)
    devices = int(v("device_count") or 1)
    gpus, was = ("the GPU", "was") if devices == 1 else (f"the {devices} GPUs", "were")
    busy = v("gpu_busy_pct") or 0.0
    span = fmt_ns(v("gpu_span_ns"))
    top = a.findings[0] if a.findings else None
    title = top.title if not top or top.title[1:2].isupper() else top.title[0].lower() + top.title[1:]
    tail = f"; the costliest finding is {title} ({fmt_ns(top.impact_ns)})" if top and top.impact_ns > 0 else ""
    compute = v("compute_busy_pct") or 0.0
    copy = v("copy_busy_pct") or 0.0
    idle = {k: v(k) or 0 for k in _CAUSES}
    cause, idle_ns = max(idle.items(), key=lambda kv: kv[1])
    total_idle = v("gpu_idle_ns") or 0
    label, desc = _CAUSES[cause]
    lead = "mostly" if idle_ns >= 0.5 * total_idle else "largest share"
    why = f", {lead} {label}: {fmt_ns(idle_ns)} {desc}{_culprit(a, cause)}" if idle_ns > 0 else ""
    startup = _startup(a, busy, idle, total_idle)
    if startup:
        return startup
    comm = _communication(a, gpus, was, busy, span, tail)
    if comm:
        return comm
    step_busy = v("step_gpu_busy_pct_p50")
    if step_busy is not None and step_busy < 50:
        return (
            f"Host-bound steps: the median step ({fmt_ns(v('step_time_p50_ns'))}) kept {gpus} busy only "
            f"{fmt_pct(step_busy)} of its wall time, so the CPU sets the pace{why}{tail}."
        )
    if busy < 60:
        return (
            f"{gpus[0].upper() + gpus[1:]} sat idle {fmt_pct(100 - busy)} of the {span} active span "
            f"({fmt_ns(total_idle)}){why}{tail}."
        )
    if copy > compute and copy >= 25:
        return (
            f"Copy-bound: memory copies kept {gpus} busy {fmt_pct(copy)} of the {span} active span "
            f"({fmt_bytes(v('h2d_bytes'))} host-to-device) against {fmt_pct(compute)} for kernels{tail}."
        )
    if busy >= 85:
        comm = v("comm_exposed_ns") or 0
        extra = f", {fmt_ns(comm)} of it exposed communication kernels" if comm > 0.05 * (v("gpu_busy_ns") or 1) else ""
        return (
            f"GPU-bound: {gpus} {was} busy {fmt_pct(busy)} of the {span} active span, mostly on kernels{extra}{tail}."
        )
    return (
        f"Partly idle: {gpus} {was} busy {fmt_pct(busy)} of the {span} active span (kernels {fmt_pct(compute)}, "
        f"copies {fmt_pct(copy)}); the idle rest was {fmt_ns(v('gpu_idle_ns'))}{why}{tail}."
    )
