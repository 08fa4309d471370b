"""Regression gate: compare a new build's traces against a base, noise-aware and polarity-aware.

    import inferscope
    c = inferscope.compare("base.nsys-rep", "new.nsys-rep", threshold=0.05)
    c.verdict, [m.key for m in c.regressions]
    from inferscope.render.compare import to_markdown
    to_markdown(c)

A Comparison is plain data; `inferscope.render.compare` writes it as Markdown, JSON, JUnit XML or GitHub
annotations. See `verdict` for the verdict rules, `core` for how the two sides are opened and matched, `result` for the
returned data, `samples` for what is measured, `stats` for the noise model.

Stage 5: may import the ground modules, ingest, engine and analyze; never render, the API or the CLI.
"""

from .core import Comparison, MetricComparison, Side, compare

__all__ = ["Comparison", "MetricComparison", "Side", "compare"]
