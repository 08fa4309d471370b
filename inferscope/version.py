"""InferScope's version: one place, read by the package, the reports and the build (pyproject's hatch config)."""

__version__ = "0.1.0"
