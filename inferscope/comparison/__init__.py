"""Regression gate: compare a new build's traces against a base, noise-aware and polarity-aware.

    import inferscope
    c = inferscope.compare("base.nsys-rep", "new.nsys-rep", threshold=0.05)
    c.verdict, [m.key for m in c.regressions]
    from inferscope.render.compare import to_markdown
    to_markdown(c)

A Comparison is plain data; `inferscope.render.compare` writes it as Markdown, JSON, JUnit XML or GitHub
annotations. See `core` for the order of work, `sides` for how the two sides are opened, `samples` for what is
measured, `gating` and `verdict` for the verdict rules, `stats` for the noise model, `notes` for what the result
says besides its rows, `result` for the returned data, `saved` for saved results and `baseline` for saved
baselines (one side's samples, which compare as its traces would).

Stage 5: may import the ground modules, ingest, engine and analyze; never render, the API or the CLI.
"""

from .core import compare
from .result import Comparison, MetricComparison, Side

__all__ = ["Comparison", "MetricComparison", "Side", "compare"]
