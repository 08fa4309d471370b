"""Mark phases, requests and batches from your own code: `inferscope.scope(...)` and `inferscope.mark_event(...)`.

    import inferscope

    with inferscope.scope("prefill", request=rid, tokens=len(prompt)):
        ...
    @inferscope.scope("decode_step")
    def decode_step(batch): ...
    inferscope.mark_event("first_token", request=rid)

Inference servers rarely mark their own phases, and the trace is only as readable as its names. This module stays
import-light (stdlib only; `nvtx` is imported only when a profiler is attached) because it is imported by the code
being measured. Where the annotations go is decided once, at import, from the environment (see docs/annotations.md):

* NVTX, when a tool is attached (nsys and ncu set NVTX_INJECTION64_PATH) or INFERSCOPE_NVTX=1, through the `nvtx`
  package (or torch.cuda.nvtx when torch is already imported and `nvtx` is not installed). Ranges and marks go
  to the "inferscope" domain; attributes travel in the text as `name {"key":value,...}` (compact JSON).
* A JSON-lines file per process in the directory named by INFERSCOPE_ANNOTATIONS, which `inferscope record`
  sets; the bundle reader puts these events on the trace timeline (inferscope/ingest/annotations.py).
* Neither: `scope()` returns one shared do-nothing object and `mark_event()` returns at once, so leaving the
  annotations in production code costs one function call.

INFERSCOPE_NVTX=0 turns NVTX off even under a profiler. `configure()` re-reads the environment (tests, or a
process that sets the variables after importing inferscope).
"""

from __future__ import annotations

import atexit
import itertools
import json
import math
import os
import sys
import threading
from collections import deque
from time import monotonic_ns, time_ns
from typing import Any, Callable, TypeVar

DOMAIN = "inferscope"
ENV_DIR = "INFERSCOPE_ANNOTATIONS"
ENV_NVTX = "INFERSCOPE_NVTX"
FILE_FORMAT_VERSION = 1

F = TypeVar("F", bound=Callable[..., Any])


def encode_text(name: str, attrs: dict) -> str:
    """The NVTX text of an annotation: the name alone, or the name, one space and the attributes as compact JSON.

    Values that JSON cannot hold are written with str(). The SQL views (sql/views/annotation_attrs.sql) find the
    attributes as the ' {' after which the rest is one JSON object, so a name may itself contain ' {'.
    """
    return name + " " + encode_attrs(attrs) if attrs else name


def encode_attrs(attrs: dict) -> str:
    """Attributes as one compact JSON object; NaN/infinity become strings (they are not JSON)."""
    parts = []
    for key, value in attrs.items():  # the common scalar types by hand: 3x faster than the JSON encoder
        kind = type(value)
        if kind is str:
            parts.append(_quote(str(key)) + ":" + _quote(value))
        elif kind is int or (kind is float and math.isfinite(value)):
            parts.append(_quote(str(key)) + ":" + repr(value))
        elif kind is float:
            parts.append(_quote(str(key)) + ":" + _quote(repr(value)))
        else:
            return _encode(attrs)
    return "{" + ",".join(parts) + "}"


_quote = json.encoder.encode_basestring_ascii  # type: ignore[attr-defined]
_encode = json.JSONEncoder(separators=(",", ":"), default=str).encode


class _Null:
    """What scope() returns when nothing records: a context manager and decorator that does nothing.

    __enter__/__exit__ are C-level callables set below (a `with` looks them up on the type and calls them
    without binding): about half the cost of Python methods. __exit__ is "".format, which accepts the three
    exception arguments and returns '' (falsy), so exceptions propagate.
    """

    __slots__ = ()

    def __call__(self, func: F) -> F:
        return func


_NULL = _Null()
_Null.__enter__ = itertools.repeat(_NULL).__next__  # type: ignore[attr-defined]
_Null.__exit__ = "".format  # type: ignore[attr-defined]


class _NvtxPackage:
    """NVTX through the `nvtx` package's low-level calls.

    The public `nvtx.annotate` is not used for two reasons: it registers (and keeps forever) one string per
    distinct message, which grows without bound when texts carry request ids, and from nvtx 0.2.13 on it turns
    into a no-op unless the tool answers nvtxDomainIsEnabled, which nsys 2022.4 does not (measured: nothing
    recorded), although that nsys records the low-level calls.
    """

    kind = "nvtx"
    _MAX_CACHED = 4096

    def __init__(self) -> None:
        from nvtx._lib import lib

        self._lib = lib
        self._handle = lib.DomainHandle(DOMAIN)
        self._attrs: dict[str, Any] = {}
        probe = lib.RegisteredString(self._handle, DOMAIN)
        try:  # nvtx >= 0.2.14 takes the domain first
            lib.EventAttributes(self._handle, probe, None, None, None)
            self._domain_first = True
        except TypeError:
            lib.EventAttributes(probe, None, None, None)
            self._domain_first = False

    def _event(self, text: str):
        ev = self._attrs.get(text)
        if ev is None:
            if len(self._attrs) >= self._MAX_CACHED:
                self._attrs.clear()
            s = self._lib.RegisteredString(self._handle, text)
            ev = (
                self._lib.EventAttributes(self._handle, s, None, None, None)
                if self._domain_first
                else self._lib.EventAttributes(s, None, None, None)
            )
            self._attrs[text] = ev
        return ev

    def push(self, text: str) -> None:
        self._lib.push_range(self._event(text), self._handle)

    def pop(self) -> None:
        self._lib.pop_range(self._handle)

    def mark(self, text: str) -> None:
        self._lib.mark(self._event(text), self._handle)


class _TorchNvtx:
    """torch.cuda.nvtx has no domains: texts get an "inferscope:" prefix so the views can still find them."""

    kind = "torch"

    def __init__(self, nvtx_module) -> None:
        self._nv = nvtx_module

    def push(self, text: str) -> None:
        self._nv.range_push(DOMAIN + ":" + text)

    def pop(self) -> None:
        self._nv.range_pop()

    def mark(self, text: str) -> None:
        self._nv.mark(DOMAIN + ":" + text)


class _FileSink:
    """Appends finished ranges and marks to DIR/annotations-<pid>.jsonl for `inferscope record`.

    The hot path only appends a tuple to a deque (thread-safe without a lock); lines are written in batches, at
    least once a second while annotations keep coming, and at exit. The first line of each file holds a
    (CLOCK_MONOTONIC, CLOCK_REALTIME) pair taken together, which places the monotonic times on any timeline.
    """

    _BATCH = 512
    _INTERVAL_NS = 1_000_000_000

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self._lock = threading.Lock()
        self._reset()
        atexit.register(self.flush)
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        self.pending: deque = deque()
        self.pid = os.getpid()
        self._last_flush = monotonic_ns()
        self._header_written = False
        self._tids: dict[int, int] = {}

    def _tid(self) -> int:
        ident = threading.get_ident()
        tid = self._tids.get(ident)
        if tid is None:
            tid = self._tids[ident] = threading.get_native_id()
        return tid

    def add(self, name: str, attrs: dict, start_ns: int, end_ns: int | None) -> None:
        self.pending.append((name, attrs, start_ns, end_ns, self._tid()))
        now = start_ns if end_ns is None else end_ns
        if len(self.pending) >= self._BATCH or now - self._last_flush > self._INTERVAL_NS:
            self.flush()

    def flush(self) -> None:
        if os.getpid() != self.pid:  # atexit in a forked child that never annotated
            return
        with self._lock:
            lines = []
            if not self._header_written:
                lines.append(
                    _encode(
                        {
                            "type": "process",
                            "version": FILE_FORMAT_VERSION,
                            "pid": self.pid,
                            "monotonic_ns": monotonic_ns(),
                            "realtime_ns": time_ns(),
                            "argv": sys.argv[:8],
                        }
                    )
                )
            while True:
                try:
                    name, attrs, start, end, tid = self.pending.popleft()
                except IndexError:
                    break
                tail = ',"attrs":' + encode_attrs(attrs) + "}" if attrs else "}"
                if end is None:
                    lines.append(
                        '{"type":"mark","name":' + _quote(name) + ',"ts_ns":' + str(start) + ',"tid":' + str(tid) + tail
                    )
                else:
                    lines.append(
                        '{"type":"range","name":'
                        + _quote(name)
                        + ',"start_ns":'
                        + str(start)
                        + ',"end_ns":'
                        + str(end)
                        + ',"tid":'
                        + str(tid)
                        + tail
                    )
            self._last_flush = monotonic_ns()
            if not lines:
                return
            try:
                os.makedirs(self.directory, exist_ok=True)
                path = os.path.join(self.directory, f"annotations-{self.pid}.jsonl")
                # the owner's alone: under nsys the workload runs with umask 0, and annotations carry request ids
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
                with os.fdopen(fd, "a", encoding="utf-8") as f:
                    f.write("\n".join(lines) + "\n")
                self._header_written = True
            except OSError:
                pass  # never break the workload because the recording directory went away


_nvtx: _NvtxPackage | _TorchNvtx | None = None
_file: _FileSink | None = None
_active = False


class _Scope:
    __slots__ = ("name", "attrs", "start")

    def __init__(self, name: str, attrs: dict) -> None:
        self.name = name
        self.attrs = attrs

    def __enter__(self) -> "_Scope":
        if _nvtx is not None:
            _nvtx.push(encode_text(self.name, self.attrs))
        self.start = monotonic_ns()
        return self

    def __exit__(self, *exc) -> bool:
        end = monotonic_ns()
        if _nvtx is not None:
            _nvtx.pop()
        if _file is not None:
            _file.add(self.name, self.attrs, self.start, end)
        return False

    def __call__(self, func: F) -> F:
        import functools

        name, attrs = self.name, self.attrs

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with _Scope(name, attrs):
                return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


def scope(name: str, **attrs: Any):
    """A named range around a block (`with`) or a function (decorator), with attributes such as request id,
    batch size or token count. Costs one call and returns a shared no-op object when nothing records."""
    if not _active:
        return _NULL
    return _Scope(name, attrs)


def mark_event(name: str, **attrs: Any) -> None:
    """An instant in time (first token, request arrival, cache eviction) with attributes."""
    if not _active:
        return
    if _nvtx is not None:
        _nvtx.mark(encode_text(name, attrs))
    if _file is not None:
        _file.add(name, attrs, monotonic_ns(), None)


def _load_nvtx_backend():
    try:
        return _NvtxPackage()
    except Exception:  # not installed, or a layout this module does not know
        pass
    torch = sys.modules.get("torch")
    if torch is not None:
        try:
            import torch.cuda.nvtx as tnvtx

            if hasattr(torch._C, "_nvtx"):  # CPU-only builds have no NVTX
                return _TorchNvtx(tnvtx)
        except Exception:
            pass
    return None


def configure(environ: dict | None = None) -> dict:
    """Choose the backends from the environment (done once at import); returns what `backends()` returns."""
    global _nvtx, _file, _active
    env = os.environ if environ is None else environ
    if _file is not None:
        _file.flush()
    mode = env.get(ENV_NVTX, "auto").strip().lower()
    want_nvtx = mode in ("1", "true", "yes", "on") or (mode == "auto" and bool(env.get("NVTX_INJECTION64_PATH")))
    _nvtx = _load_nvtx_backend() if want_nvtx else None
    directory = env.get(ENV_DIR)
    _file = _FileSink(directory) if directory else None
    _active = _nvtx is not None or _file is not None
    return backends()


def backends() -> dict:
    """Where annotations go now: {"nvtx": "nvtx" | "torch" | None, "file": directory | None}."""
    return {"nvtx": None if _nvtx is None else _nvtx.kind, "file": None if _file is None else _file.directory}


def flush() -> None:
    """Write pending annotation events to the recording directory now (they are also written at exit)."""
    if _file is not None:
        _file.flush()


configure()
