"""InferScope: why is my model slow on this GPU, and did my change make it slower?

    import inferscope
    t = inferscope.open("sample_traces/h100_2gpu_fastvideo.sqlite")
    t.stats("cuda_gpu_kern_sum").df()
    t.sql("SELECT device_id, count(*) FROM kernels GROUP BY 1")

Attributes are imported lazily so that `import inferscope` stays cheap (the annotation API and the recorder
must not pull in DuckDB or pandas).
"""

from __future__ import annotations

from .version import __version__

_LAZY = {
    "open": ("inferscope.api", "open_trace"),
    "Trace": ("inferscope.api", "Trace"),
    "compare": ("inferscope.comparison", "compare"),
    "Comparison": ("inferscope.comparison", "Comparison"),
    "InferScopeError": ("inferscope.errors", "InferScopeError"),
    "TraceInputError": ("inferscope.errors", "TraceInputError"),
    "NsysNotFoundError": ("inferscope.errors", "NsysNotFoundError"),
    "NsysVersionError": ("inferscope.errors", "NsysVersionError"),
    "QueryError": ("inferscope.errors", "QueryError"),
    "RuleError": ("inferscope.errors", "RuleError"),
    "CompareError": ("inferscope.errors", "CompareError"),
    "ConfigError": ("inferscope.errors", "ConfigError"),
    "load_config": ("inferscope.config", "load_config"),
    "scope": ("inferscope.annotate", "scope"),
    "mark_event": ("inferscope.annotate", "mark_event"),
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'inferscope' has no attribute {name!r}")
