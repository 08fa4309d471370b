"""The serving block of an analysis as plain lines (terminal; Markdown reuses them): requests, their latency
summary as the load generator reports it, and what the GPU and the scheduler did while they were in flight."""

from __future__ import annotations

from ..units import fmt_ns, fmt_pct


def _summary(serving: dict) -> dict[str, dict]:
    return {row["tag"]: row for row in serving.get("summary", [])}


def _ms(row: dict | None, stat: str) -> str:
    return "n/a" if not row or row.get(stat) is None else fmt_ns(row[stat] * 1e6)


def _origin(al: dict) -> str:
    """Which tool wrote the file and whether the bundle carried it: two files of the same name can differ."""
    tool = {"aiperf": "AIPerf", "genai-perf": "GenAI-Perf"}.get(al.get("source", ""), "")
    parts = [tool] if tool else []
    if al.get("origin") == "carried in the bundle":
        parts.append("carried in the bundle")
    return f" ({', '.join(parts)})" if parts else ""


def lines(serving: dict) -> list[str]:
    s, sm, al = serving.get("serving") or {}, _summary(serving), serving.get("alignment") or {}
    out = [
        f"Requests: {s.get('requests', 0)} from {al.get('file', 'the request file')}{_origin(al)} "
        f"({s.get('completed', 0)} completed, "
        f"{s.get('not_completed', 0)} cancelled or failed); {s.get('joined', 0)} inside the trace's span "
        f"({al.get('placement.before', '0')} before it, {al.get('placement.after', '0')} after, "
        f"{al.get('placement.partial', '0')} across an edge)",
        f"  clock: {al.get('clock_anchor', 'n/a')}, offset {al.get('offset_ns', 'n/a')} ns "
        f"± {al.get('offset_uncertainty_ns', 'n/a')} ns",
    ]
    for tag, label in (("ttft", "TTFT"), ("inter_token_latency", "ITL"), ("request_latency", "latency")):
        row = sm.get(tag)
        if row:
            out.append(
                f"  {label}: p50 {_ms(row, 'p50')}, p90 {_ms(row, 'p90')}, p99 {_ms(row, 'p99')}, max {_ms(row, 'max')}"
            )
    tput = sm.get("output_token_throughput")
    if tput:
        out.append(f"  output tokens/s: {tput['avg']:,.1f}")
    if s.get("step_span_ns"):
        out += [
            f"  in flight: {fmt_pct(s.get('in_flight_gpu_span_pct'))} of the GPU span, "
            f"{fmt_pct(s.get('in_flight_step_span_pct'))} of the serving steps' span; up to {s.get('max_in_flight')} "
            f"at once for {s.get('slots_seen')} batch slots",
            f"  steps: {s.get('prefill_steps')} prefill (GPU busy {fmt_pct(s.get('prefill_gpu_busy_pct'))}), "
            f"{s.get('decode_steps')} decode (GPU busy {fmt_pct(s.get('decode_gpu_busy_pct'))})",
            f"  queueing before prefill: p50 {fmt_ns(s.get('queue_p50_ns'))}, max {fmt_ns(s.get('queue_max_ns'))} "
            f"({fmt_pct(s.get('queue_ttft_pct'))} of TTFT)",
            f"  head-of-line: {s.get('hol_prefills')} prefills ran during others' decode; "
            f"{fmt_pct(s.get('hol_stalled_pct'))} of running requests waited the whole prefill",
        ]
    tail = {(r["metric"], r["part"]): r for r in serving.get("tail") or []}
    slow, rest = tail.get(("chunk_gap", "tail")), tail.get(("chunk_gap", "rest"))
    if slow and rest and slow.get("prefill_overlap_pct") is not None:
        out.append(
            f"  slowest 1% of token gaps ({slow['n']}, mean {fmt_ns(slow['mean_ns'])}): "
            f"{fmt_pct(slow['prefill_overlap_pct'])} overlapped a prefill step, against "
            f"{fmt_pct(rest['prefill_overlap_pct'])} of the other gaps"
        )
    slow, rest = tail.get(("ttft", "tail")), tail.get(("ttft", "rest"))
    if slow and rest and slow.get("queue_ns") is not None and rest.get("queue_ns") is not None:
        out.append(
            f"  slowest 1% of TTFT ({slow['n']}, mean {fmt_ns(slow['mean_ns'])}): queued {fmt_ns(slow['queue_ns'])} "
            f"before prefill against {fmt_ns(rest['queue_ns'])} for the rest"
        )
    slowest = (serving.get("slowest_e2e") or [None])[0]
    if slowest:
        parts = {}
        for b in serving.get("slowest_breakdown") or []:
            if b["request_id"] == slowest["request_id"]:
                parts.setdefault(b["dimension"], []).append(f"{b['label']} {fmt_pct(b['pct'])}")
        out.append(
            f"  slowest request {slowest['request_id']} ({fmt_ns(slowest['e2e_ns'])}): GPU kernels "
            f"{', '.join(parts.get('kernel_class', [])[:3]) or 'n/a'}; GPU idle "
            f"{', '.join(parts.get('idle_cause', [])[:2]) or 'n/a'} (by cause)"
        )
    for row in (serving.get("slowest_ttft") or [])[:3]:
        out.append(
            f"  slow TTFT {row['request_id']}: {fmt_ns(row['ttft_ns'])} = queue {fmt_ns(row['queue_ns'])} + prefill "
            f"{fmt_ns(row['prefill_ns'])} + the rest; GPU busy {fmt_pct(row['gpu_busy_pct'])} while in flight"
        )
    return out
