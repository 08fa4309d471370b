"""Stage 3, the engine: DuckDB over the model tables, the Parquet cache they live in, and the opened trace.

`core` runs SQL (the views of sql/views/ created on first use), `cache` stores and finds converted traces
(`cache_root`: where; `cache_key`: keyed on what; `cache_entry`: one entry; `parquet_footer`: its checks),
`trace` is the data side of `inferscope.Trace`, and `stats` the nsys-style summary reports over it. May import
the ground modules (`inferscope.model`, `errors`, `resources`, ...) and `inferscope.ingest`; nothing above.
"""

__all__ = ["Engine", "Rows"]


def __getattr__(name: str):
    # `inferscope stats --help` and the cache commands import this package; DuckDB loads with `core` only
    if name in __all__:
        from . import core

        return getattr(core, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
