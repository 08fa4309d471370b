"""The one sentence that opens every analysis: what limits this trace.

It is built from metrics, not from the top finding alone, because findings measure different things (a sync's
exposed idle, a copy's duration) while the limiter is a statement about where the GPU's time went: busy on
kernels, busy on copies, or idle - and if idle, idle because of what.
"""

from __future__ import annotations

from .result import Analysis
from ..units import fmt_bytes, fmt_ns, fmt_pct

_CAUSES = {
    "idle_sync_ns": ("sync-bound", "passed while the host was blocked waiting for the GPU"),
    "idle_launch_ns": ("launch-bound", "passed while the host was busy in CUDA launch calls"),
    "idle_host_ns": ("host-bound", "passed while the host did CPU work before launching"),
    "idle_copy_ns": ("copy-bound", "passed while the host was inside copy calls"),
    "idle_dependency_ns": ("dependency-bound", "passed with work queued behind other streams, events or devices"),
    "idle_unknown_ns": ("unattributed", "preceded work with no recorded launch call"),
}


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


def sentence(a: Analysis) -> str:
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
    why = f", {lead} {label}: {fmt_ns(idle_ns)} {desc}" if idle_ns > 0 else ""
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
        extra = f", {fmt_ns(comm)} of it exposed NCCL communication" if comm > 0.05 * (v("gpu_busy_ns") or 1) else ""
        return (
            f"GPU-bound: {gpus} {was} busy {fmt_pct(busy)} of the {span} active span, mostly on kernels{extra}{tail}."
        )
    return (
        f"Partly idle: {gpus} {was} busy {fmt_pct(busy)} of the {span} active span (kernels {fmt_pct(compute)}, "
        f"copies {fmt_pct(copy)}); the idle rest was {fmt_ns(v('gpu_idle_ns'))}{why}{tail}."
    )
