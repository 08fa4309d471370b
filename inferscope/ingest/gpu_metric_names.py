"""Nsight Systems GPU metric names -> stable InferScope metric ids and units.

nsys names its sampled GPU metrics after the hardware's counter set, and the set and the spelling change with the
GPU architecture and the nsys version: Hopper and Ampere exports say `SMs Active [Throughput %]`, Turing's set
`SM Active`, Turing and older nsys put Tensor Cores and FP16 together as `Tensor Active / FP16 Active`, and DRAM
and PCIe throughput were `... Throughput` where later sets say `... Bandwidth`. Views and rules must not depend
on any one spelling, so every name becomes an id built from the name itself (lower case, words joined by `_`,
the bracketed unit as a suffix) and the ids the analysis reads are then given one spelling each (ALIASES). A
metric InferScope does not know still gets an id, so nothing recorded is dropped.

The unit is the bracket at the end of the name: `[Throughput %]` -> pct (0-100 of the unit's peak), `[MHz]` ->
MHz, `[Avg]` -> warps (average warps resident), `[Avg Warps per Cycle]` -> warps/cycle, `[Requests]` ->
requests, `[Cycles Active]` -> cycles. nsys 2025.3 stores the clocks in Hz under a `[MHz]` label (an H200 reads
1980063750 at its 1980 MHz boost); the conversion (ingest/gpu_metric_series.py) scales those, and this
module only names them.
"""

from __future__ import annotations

import re

# bracketed unit -> (id suffix, unit label)
UNITS: dict[str, tuple[str, str]] = {
    "throughput %": ("pct", "pct"),
    "%": ("pct", "pct"),
    "mhz": ("mhz", "MHz"),
    "avg": ("avg", "warps"),
    "avg warps per cycle": ("per_cycle", "warps/cycle"),
    "requests": ("requests", "requests"),
    "cycles active": ("cycles", "cycles"),
}

# id built from the name -> the stable id the analysis reads (one per concept, whatever the set spells)
ALIASES: dict[str, str] = {
    "gpc_clock_frequency_mhz": "gpc_clock_mhz",
    "sys_clock_frequency_mhz": "sys_clock_mhz",
    "gr_active_pct": "gr_active_pct",
    "sms_active_pct": "sm_active_pct",
    "sm_active_pct": "sm_active_pct",
    "sm_issue_pct": "sm_issue_pct",
    "tensor_active_pct": "tensor_active_pct",
    "tensor_active_fp16_active_pct": "tensor_active_pct",
    "tensor_pipe_active_pct": "tensor_active_pct",
    "compute_warps_in_flight_pct": "compute_warps_pct",
    "compute_warps_in_flight_avg": "compute_warps_avg",
    "compute_warps_in_flight_per_cycle": "compute_warps_per_cycle",
    "unallocated_warps_in_active_sms_pct": "unallocated_warps_pct",
    "unallocated_warps_in_active_sms_avg": "unallocated_warps_avg",
    "unallocated_warps_in_active_sms_per_cycle": "unallocated_warps_per_cycle",
    "dram_read_bandwidth_pct": "dram_read_bw_pct",
    "dram_read_throughput_pct": "dram_read_bw_pct",
    "dram_write_bandwidth_pct": "dram_write_bw_pct",
    "dram_write_throughput_pct": "dram_write_bw_pct",
    "pcie_rx_throughput_pct": "pcie_rx_bw_pct",
    "pcie_rx_bandwidth_pct": "pcie_rx_bw_pct",
    "pcie_tx_throughput_pct": "pcie_tx_bw_pct",
    "pcie_tx_bandwidth_pct": "pcie_tx_bw_pct",
}

_BRACKET = re.compile(r"^(?P<base>.*?)\s*\[(?P<unit>[^\]]*)\]\s*$")


def stable_id(name: str) -> tuple[str, str]:
    """(metric id, unit) of an nsys metric name such as 'SMs Active [Throughput %]' -> ('sm_active_pct', 'pct')."""
    m = _BRACKET.match(name or "")
    base, unit_text = (m.group("base"), m.group("unit")) if m else (name or "", "")
    suffix, unit = UNITS.get(unit_text.strip().lower(), (_slug(unit_text), unit_text.strip() or "value"))
    slug = "_".join(p for p in (_slug(base), suffix) if p) or "unnamed"
    return ALIASES.get(slug, slug), unit


def _slug(text: str) -> str:
    return "_".join(re.findall(r"[a-z0-9]+", text.lower()))
