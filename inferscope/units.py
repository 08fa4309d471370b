"""Human-readable numbers for sentences and terminal output: ns -> "12.3 ms", bytes -> "50.9 GB".

Kept apart from any renderer so finding summaries, the terminal summary and the report templates say the same
thing the same way. Decimal units (1 GB = 1e9 bytes), as nsys and vendor bandwidth figures use.
"""

from __future__ import annotations

import math


def _bad(v) -> bool:
    return v is None or (isinstance(v, float) and (math.isnan(v) or math.isinf(v)))


def fmt_ns(ns) -> str:
    if _bad(ns):
        return "n/a"
    a = abs(ns)
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if a >= scale:
            v = ns / scale
            return f"{v:.3g} {unit}" if abs(v) < 100 else f"{v:,.0f} {unit}"
    return f"{ns:.0f} ns"


def fmt_bytes(n) -> str:
    if _bad(n):
        return "n/a"
    a = abs(n)
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if a >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n:.0f} B"


def fmt_rate(bytes_per_s) -> str:
    return "n/a" if _bad(bytes_per_s) else fmt_bytes(bytes_per_s) + "/s"


def fmt_pct(p) -> str:
    if _bad(p):
        return "n/a"
    return f"{p:.1f}%" if abs(p) < 99.95 or abs(p) >= 100 else f"{p:.2f}%"


def fmt_int(n) -> str:
    return "n/a" if _bad(n) else f"{int(round(n)):,}"


def fmt_value(value, unit: str) -> str:
    """A metric value in its unit (units as declared in sql/metrics headers)."""
    if _bad(value):
        return "n/a"
    if unit == "ns":
        return fmt_ns(value)
    if unit == "bytes":
        return fmt_bytes(value)
    if unit == "bytes/s":
        return fmt_rate(value)
    if unit == "pct":
        return fmt_pct(value)
    if unit == "count":
        return fmt_int(value)
    if unit == "ratio":
        return f"{value:.3g}"
    return f"{value:,.4g} {unit}".strip()
