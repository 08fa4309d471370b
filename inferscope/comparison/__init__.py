"""Regression gate: compare a new build's traces against a base, noise-aware and polarity-aware.

    import inferscope
    c = inferscope.compare("base.nsys-rep", "new.nsys-rep", threshold=0.05)
    c.verdict, [m.key for m in c.regressions]
    c.to_markdown()

See `core` for the verdict rules, `samples` for what is measured, `stats` for the noise model.
"""
from .core import Comparison, MetricComparison, Side, compare

__all__ = ["Comparison", "MetricComparison", "Side", "compare"]
