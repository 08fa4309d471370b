"""Which compared quantities gate: the primary metrics.

A gate that fails on any of hundreds of CPU-op means and per-window kernel counts gets switched off after its
first false alarm on a real speed-up. So only what the user pays for gates by default:

* time per step (the distribution over steps) and throughput (steps/s, its reciprocal: the same test, shown
  because that is how serving and training speed is quoted);
* GPU time per step (summed kernel time launched in the step);
* step time per token and tokens/s, where the steps name the tokens they processed (vLLM's scheduler-step
  annotations): a step doing more tokens is more work, not a slower step. When the tokens per step moved beyond
  the threshold, the per-step and per-call figures (PER_STEP_WORK) measure that work and explain instead of
  gating;
* the per-call time of the kernels that make up most of the base's GPU time (TOP_KERNEL_SHARE of it, at most
  TOP_KERNELS of them, each at least min_share): a slower GEMM is a regression even when the step hides it;
* when both sides have a load generator's requests joined: TTFT and inter-token latency at p50 and p99 and output
  tokens/s, the figures serving SLOs and capacity plans are written in (request latency explains them).

Everything else explains these. `--metric GLOB` replaces the selection: what it names gates, with the same rules.
"""

from __future__ import annotations

import fnmatch
from typing import Sequence

from .stats import RatioEstimate

TOP_KERNEL_SHARE = 0.8
TOP_KERNELS = 10
STEP_METRICS = ("step_time_ns", "step_kernel_time_ns", "step_time_per_token_ns")
REQUEST_GATES = (
    "request_ttft_p50_ns",
    "request_ttft_p99_ns",
    "request_itl_p50_ns",
    "request_itl_p99_ns",
    "request_output_tokens_per_s",
)
THROUGHPUT_ID = "throughput_steps_per_s"
TOKEN_THROUGHPUT_ID = "throughput_tokens_per_s"
# Per-step and per-call figures that grow with the work a step does: when the tokens per step moved, they measure
# the work, and time per token gates in their place.
PER_STEP_WORK = ("step_time_ns", "step_kernel_time_ns", "kernel_mean_ns")


def matches(metric_id: str, patterns: Sequence[str] | None) -> bool:
    """True when `metric_id` (with or without its `metric:` prefix) matches one of the glob patterns."""
    if not patterns:
        return True
    bare = metric_id.removeprefix("metric:")
    return any(fnmatch.fnmatchcase(metric_id, p) or fnmatch.fnmatchcase(bare, p) for p in patterns)


def top_kernels(shares: dict[str, float], min_share: float) -> set[str]:
    """Kernel keys that make up most of the base's GPU time, hottest first (see the module docstring)."""
    picked: set[str] = set()
    total = 0.0
    for key, share in sorted(shares.items(), key=lambda kv: (-kv[1], kv[0])):
        if total >= TOP_KERNEL_SHARE or len(picked) >= TOP_KERNELS or share < min_share:
            break
        picked.add(key)
        total += share
    return picked


def is_primary(sid: tuple, kernels: set[str], patterns: Sequence[str] | None) -> bool:
    metric_id, _, key, _ = sid
    if patterns:
        return matches(metric_id, patterns)
    if metric_id in STEP_METRICS or metric_id in REQUEST_GATES:
        return True
    return metric_id == "kernel_mean_ns" and key in kernels


def throughput(estimate: RatioEstimate | None) -> RatioEstimate | None:
    """Steps/s is 1 / mean step time: its ratio new/base is the reciprocal, with the same spread."""
    if estimate is None:
        return None
    return RatioEstimate(1.0 / estimate.ratio if estimate.ratio else float("inf"), estimate.log_sd, estimate.df)
