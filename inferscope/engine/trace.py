"""An opened trace: the model tables in the Parquet cache, with a DuckDB engine over them.

This is the data side of `inferscope.Trace`; the analysis, report and notebook methods that the public class adds
live in `inferscope.api`, above the stages they call, so that analysis and comparison can take a trace from here
without importing what renders them.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from .. import ingest, model
from . import cache
from .core import Engine
from ..errors import QueryError, TraceInputError
from ..progress import spinner

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from collections.abc import Iterator

    from .core import Rows, RowStream
    from .stats import StatsResult
    from .window import Window


class Trace:
    """A trace converted to the InferScope trace model (see `inferscope.model` and docs/trace-model.md).

    Create it with `inferscope.open(path)`. Tables are read lazily from the cache; `sql()` runs DuckDB SQL over
    the model tables and the views in sql/views/.
    """

    def __init__(self, path: Path, fmt: str, cache_entry: Path | None, tables: "dict[str, pa.Table] | None"):
        self.path = path
        self.format = fmt
        self.cache_entry = cache_entry
        self._tables = tables
        self._cache_repaired: str | None = None
        self._attached: dict[str, tuple["pa.Table", bool]] = {}  # model table -> (rows, appended to the trace's)

    @cached_property
    def engine(self) -> Engine:
        engine = Engine(parquet_dir=self.cache_entry) if self.cache_entry is not None else Engine(tables=self._tables)
        for name, (table, append) in self._attached.items():
            engine.attach(name, table, append)
        return engine

    def attach_requests(self, path: str | Path) -> dict[str, str]:
        """Read a load generator's request file (AIPerf profile_export.jsonl or GenAI-Perf profile_export.json, told
        apart by content) onto this trace's clock: the `requests` and `request_chunks` tables, and `requests.*`
        facts in trace_meta (the clock offset and its uncertainty, how many requests fell inside, across, before or
        after the trace's span). Returns those facts. Raises `TraceInputError` for a file that is neither."""
        from ..ingest import request_files

        source, entries = request_files.read(Path(path))
        meta = {k: v for k, v in self.meta.items() if not k.startswith("requests.")}
        start = meta.get("session_start_utc_ns")
        span = self.engine.rows(
            "SELECT min(s), max(e) FROM (SELECT min(start_ns) s, max(end_ns) e FROM kernels UNION ALL "
            "SELECT min(start_ns), max(end_ns) FROM memcpy UNION ALL SELECT min(start_ns), max(end_ns) FROM api_calls "
            "UNION ALL SELECT min(start_ns), max(end_ns) FROM nvtx_ranges)"
        ).rows[0]
        window = (int(span[0]), int(span[1])) if span[0] is not None else None
        tables = request_files.to_tables(entries, source, int(start) if start and start.isdigit() else None, window)
        bundled = self.bundled_requests()
        carried = bundled is not None and Path(path).resolve() == bundled.resolve()
        facts = request_files.alignment(meta, tables["requests"], window, Path(path), source, carried)
        import pyarrow as pa

        tables["trace_meta"] = pa.table({"key": list(facts), "value": list(facts.values())})
        for name, table in tables.items():
            append = name == "trace_meta"
            self._attached[name] = (table, append)
            self.engine.attach(name, table, append)
        self.__dict__.pop("meta", None)
        return facts

    def bundled_requests(self) -> Path | None:
        """The request file this trace's bundle carries (`inferscope record --requests`), or None: a trace that is
        no bundle, or a bundle recorded without one. `analyze` attaches it unless another file is given."""
        if self.format != "bundle":
            return None
        from ..ingest.bundle import requests_file

        return requests_file(self.path)

    def attach_bundled_requests(self) -> tuple[Path | None, str | None]:
        """Attach the bundle's own request file when nothing is attached yet: (the file attached or None, why it
        could not be). A damaged copy costs the serving block, not the analysis, so it is a reason, not an error:
        the user asked for the trace, not for this file."""
        bundled = self.bundled_requests()
        if bundled is None or "requests" in self._attached:
            return None, None
        try:
            self.attach_requests(bundled)
        except TraceInputError as exc:
            return None, f"the bundle's request file is not used: {exc}"
        return bundled, None

    @contextmanager
    def window(self, window=None, skip_warmup: bool = False) -> "Iterator[Window | None]":
        """Show every query inside the `with` block only part of the trace: `window` as text ('1.5s:3s', '200ms:',
        ':10s'; times since the trace start) or (start_ns, end_ns) on that clock, and/or, with `skip_warmup`, each
        process from the end of its warm-up window (view warmup). Yields the `engine.window.Window` applied (None
        when neither was asked for); the whole trace is back after the block. Raises QueryError for a malformed
        window and for one that holds no trace activity."""
        from .window import resolve

        if window is None and not skip_warmup:  # nothing asked: whatever window is applied stays
            yield None
            return
        if self.engine.window is not None:
            raise QueryError("a window is already applied to this trace; leave its `with` block first")
        w = resolve(self.engine.con, window, skip_warmup)
        if w is None:
            yield None
            return
        self.engine.set_window(w)
        try:
            if (
                window is not None
                and not self.engine.rows(
                    "SELECT (SELECT count(*) FROM api_calls) + (SELECT count(*) FROM gpu_ops) "
                    "+ (SELECT count(*) FROM nvtx_ranges)"
                ).rows[0][0]
            ):
                raise QueryError(
                    f"window {w.describe()}: no CUDA call, GPU operation or range of the trace starts in it"
                )
            yield w
        finally:
            if "engine" in self.__dict__:  # closed inside the block (compare closes a trace once it is sampled)
                self.engine.set_window(None)

    def table(self, name: str) -> "pa.Table":
        """One model table as Arrow (names: `inferscope.model.TABLE_BY_NAME`)."""
        if name not in model.TABLE_BY_NAME:
            raise QueryError(f"unknown table {name!r}; tables are {', '.join(model.TABLE_BY_NAME)}")
        if name in self._attached:
            return self.engine.query(f"SELECT * FROM {name}")
        if self.cache_entry is None:
            return (
                model.plain(model.conform(name, self._tables[name]))
                if name in self._tables
                else model.empty_table(name)
            )
        import pyarrow.parquet as pq

        # one file: ParquetFile, not read_table, whose dataset layer imports pyarrow.dataset and pandas (0.2 s of
        # a 0.8 s warm analysis, which reads trace_meta this way)
        return pq.ParquetFile(self.cache_entry / f"{name}.parquet").read()

    def df(self, name: str) -> "pd.DataFrame":
        """One model table as pandas."""
        return self.table(name).to_pandas()

    def sql(self, query: str, params: dict | list | None = None, arrow: bool = False):
        """Run DuckDB SQL over the model; a pandas DataFrame, or Arrow with arrow=True."""
        result = self.engine.query(query, params)
        return result if arrow else result.to_pandas()

    def rows(self, query: str, params: dict | list | None = None) -> "Rows":
        """Run DuckDB SQL and return Python rows (`inferscope.engine.Rows`: column_names, types, rows,
        to_pylist()), without loading pyarrow or pandas."""
        return self.engine.rows(query, params)

    @cached_property
    def meta(self) -> dict[str, str]:
        """trace_meta as a dict (source format/version, session_start_utc_ns, command, env.*)."""
        t = self.table("trace_meta")
        return dict(zip(t.column("key").to_pylist(), t.column("value").to_pylist()))

    def quality(self) -> dict[str, dict]:
        """Impossible values the conversion left out or repaired, so a report can say its numbers exclude them:
        {"kernels.end_before_start": {"count": 3, "description": "..."}, ...}; empty for a clean trace. Read from
        trace_meta's `quality.<table>.<problem>` (count) and `quality_note.<table>.<problem>` (meaning) keys."""
        out: dict[str, dict] = {}
        for key, value in self.meta.items():
            if key.startswith("quality.") and value is not None:
                name = key[len("quality.") :]
                try:
                    count = int(value)
                except ValueError:
                    continue
                out[name] = {"count": count, "description": self.meta.get(f"quality_note.{name}", "")}
        return out

    @property
    def cache_repaired(self) -> str | None:
        """Why the cache entry was found damaged and rebuilt on this open (one line), else None."""
        return self._cache_repaired

    def stats(self, report: str) -> "StatsResult":
        """One nsys-compatible summary report (`inferscope.engine.stats.available()` lists them)."""
        from .stats import StatsResult, report_sql, resolve

        return StatsResult(resolve(report), self.engine.rows(report_sql(report)))

    def stats_stream(self, report: str) -> "RowStream":
        """One summary report's rows fetched a thousand at a time, for writing as CSV or JSON as they come: a
        report over long unique names (NVTX ranges named with prompts or ids) is never held whole."""
        from .stats import report_sql

        return self.engine.row_stream(report_sql(report))

    def python_frames(self, start_ns: int, end_ns: int, pid: int, tid: int | None = None, arrow: bool = False):
        """The Python code a thread (or every thread of `pid`) was sampled in during [start_ns, end_ns), most
        sampled first: the `python_frames_during` SQL macro over a recorder bundle's samples."""
        t = "NULL" if tid is None else str(int(tid))
        return self.sql(
            f"SELECT * FROM python_frames_during({int(start_ns)}, {int(end_ns)}, {int(pid)}, {t})", arrow=arrow
        )

    def summary(self) -> dict:
        """What the trace holds: source, span, devices and event counts (shown by the notebook display)."""
        counts = self.sql(
            "SELECT (SELECT count(*) FROM kernels) AS kernels, (SELECT count(*) FROM memcpy) AS memcpy, "
            "(SELECT count(*) FROM api_calls) AS api_calls, (SELECT count(*) FROM nvtx_ranges) AS ranges, "
            "(SELECT count(*) FROM cpu_samples) AS samples, "
            "(SELECT count(DISTINCT device_id) FROM kernels) AS gpus, "
            "(SELECT max(end_ns) - min(start_ns) FROM (SELECT start_ns, end_ns FROM kernels UNION ALL "
            " SELECT start_ns, end_ns FROM api_calls UNION ALL SELECT start_ns, end_ns FROM nvtx_ranges)) AS span_ns",
            arrow=True,
        ).to_pylist()[0]
        return {"path": str(self.path), "format": self.format, "version": self.meta.get("source_version"), **counts}

    def close(self) -> None:
        if "engine" in self.__dict__:
            self.engine.close()
            del self.__dict__["engine"]

    def __enter__(self) -> "Trace":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<inferscope.Trace {self.path} ({self.format})>"


def open_trace(
    path: str | Path, *, cache_dir: str | Path | None = None, use_cache: bool = True, progress: bool | None = None
) -> Trace:
    """Open any supported trace: an InferScope bundle, `.nsys-rep`, nsys SQLite/Arrow/parquetdir export, or a
    PyTorch profiler (Kineto) JSON file or directory.

    The first open converts the trace and stores the model tables as Parquet in the InferScope cache (`cache_dir`,
    else $INFERSCOPE_CACHE_DIR, else the user cache directory; never beside the trace, which may be shared or
    read-only); later opens reuse them. `use_cache=False` converts in memory and writes nothing. Raises
    `TraceInputError` (and other `InferScopeError`s) for bad input.
    """
    return _open(path, Trace, cache_dir=cache_dir, use_cache=use_cache, progress=progress)


def _open(path, cls: type[Trace], *, cache_dir=None, use_cache: bool = True, progress: bool | None = None):
    """open_trace for a Trace class of the caller's (the public API's subclass)."""
    p = Path(path).expanduser()
    fmt = ingest.detect(p)
    cdir = Path(cache_dir).expanduser() if cache_dir is not None else None
    with spinner(progress) as step:

        def build():
            return ingest.iter_tables(p, fmt, step)

        repaired: list[str] = []

        def damaged(message: str) -> None:
            repaired.append(message)
            print(f"inferscope: warning: {message}", file=sys.stderr, flush=True)

        try:
            entry, tables = cache.get_or_build(p, build, cdir, use_cache, fmt, on_damage=damaged)
        except OSError as exc:
            raise TraceInputError(
                f"{p}: cannot write the InferScope cache in {cache.resolve_root(cdir)} ({exc}); "
                f"pass --cache-dir, set {cache.ENV_VAR}, or use --no-cache"
            ) from exc
    trace = cls(p, fmt, entry, tables)
    trace._cache_repaired = repaired[-1] if repaired else None
    return trace
