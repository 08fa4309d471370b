"""Copies of real PyTorch profiler (Kineto) traces edited in plain Python, for the compare gate's cases (issue 20).

Each edit changes one thing and names it in the file name; everything else (every other event, the metadata,
the device properties) stays the real trace. The tests compute what they expect from these files with plain
Python (`steps`, `kernel_durations`), never from InferScope.

* stretched: every timestamp and duration scaled by a factor around the trace's start (a uniformly slower run);
* slowed_kernels: the kernels whose names match get longer by a factor, nothing else moves (a slower GEMM);
* host_wait: a host-side wait inserted at the start of every step, marked by a `DataLoader wait` annotation
  (a data loader that keeps the GPU waiting); two copies with different waits are a real speed-up or slow-down
  of the host between steps;
* first_steps: the trace cut after its first n steps (a shorter capture of the same run);
* renamed_kernel: every execution of one kernel renamed (cuBLAS picking a different GEMM of the same speed: the
  kernel mix changes, the time does not);
* gpu_model: the device name changed (the same trace claiming another GPU);
* reshaped: the recorded input dims of one op changed (a different batch or sequence shape; the time does not).
"""

from __future__ import annotations

import bisect
import functools
import gzip
import json
import re
from pathlib import Path

STEP = re.compile(r"^ProfilerStep#\d+$")


def load(path: Path) -> dict:
    return json.loads(gzip.decompress(Path(path).read_bytes()))


@functools.lru_cache(maxsize=4)
def _read(path: str, mtime_ns: int, size: int) -> dict:
    return load(Path(path))


def read(path: Path) -> dict:
    """`load`, parsed once per file version: for the expectations that only look at a trace (the serving trace
    takes 4 s to parse, and one test used to parse it four times). Never edit what it returns; `load` gives a
    document of one's own."""
    st = Path(path).stat()
    return _read(str(Path(path).resolve()), st.st_mtime_ns, st.st_size)


def save(doc: dict, path: Path) -> Path:
    """Written whole at gzip level 1: json.dump through a gzip text stream at the default level 9 took 11.7 s for
    the 340k-event serving trace (now 2 s); the bytes InferScope reads back are the same JSON."""
    Path(path).write_bytes(gzip.compress(json.dumps(doc).encode(), compresslevel=1))
    return path


def steps(doc: dict, name: re.Pattern = STEP) -> list[dict]:
    """The CPU-side step ranges (user_annotation), in time order."""
    return sorted(
        (
            e
            for e in doc["traceEvents"]
            if e.get("ph") == "X" and e.get("cat") == "user_annotation" and name.match(str(e.get("name", "")))
        ),
        key=lambda e: e["ts"],
    )


def kernel_durations(doc: dict) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for e in doc["traceEvents"]:
        if e.get("cat") == "kernel" and e.get("ph") == "X":
            out.setdefault(e["name"], []).append(float(e["dur"]))
    return out


def _timed(doc: dict):
    return (e for e in doc["traceEvents"] if isinstance(e.get("ts"), (int, float)))


def stretched(src: Path, dst: Path, factor: float) -> Path:
    doc = load(src)
    t0 = min(e["ts"] for e in _timed(doc))
    for e in _timed(doc):
        e["ts"] = t0 + (e["ts"] - t0) * factor
        if isinstance(e.get("dur"), (int, float)):
            e["dur"] = e["dur"] * factor
    return save(doc, dst)


def slowed_kernels(src: Path, dst: Path, like: str, factor: float) -> tuple[Path, list[str]]:
    doc = load(src)
    names = set()
    for e in doc["traceEvents"]:
        if e.get("cat") == "kernel" and e.get("ph") == "X" and like in e["name"]:
            e["dur"] = e["dur"] * factor
            names.add(e["name"])
    return save(doc, dst), sorted(names)


def host_wait(src: Path, dst: Path, wait_us: float, name: re.Pattern = STEP) -> Path:
    """`wait_us` of host time inserted just after each step starts: every later event moves by the waits
    inserted before it, a range spanning an insertion point grows by it, and a `DataLoader wait` annotation
    covers each inserted wait on the step's thread."""
    doc = load(src)
    cuts = [s["ts"] for s in steps(doc, name)]
    points = [c + 0.01 for c in cuts]  # 10 ns after the step's start: the step itself begins before its wait

    def moved(t: float) -> float:
        return t + wait_us * bisect.bisect_left(points, t)

    for e in _timed(doc):
        start = e["ts"]
        e["ts"] = moved(start)
        if isinstance(e.get("dur"), (int, float)):
            e["dur"] = moved(start + e["dur"]) - e["ts"]
    first = steps(doc, name)
    for i, s in enumerate(first):
        doc["traceEvents"].append(
            {
                "ph": "X",
                "cat": "user_annotation",
                "name": "DataLoader wait",
                "pid": s["pid"],
                "tid": s["tid"],
                "ts": cuts[i] + 0.01 + wait_us * i,
                "dur": wait_us,
                "args": {},
            }
        )
    return save(doc, dst)


def first_steps(src: Path, dst: Path, n: int, name: re.Pattern = STEP) -> Path:
    """Only what ended before the end of step n (1-based), as if capture had stopped there."""
    doc = load(src)
    s = steps(doc, name)[n - 1]
    end = s["ts"] + s["dur"]
    doc["traceEvents"] = [
        e
        for e in doc["traceEvents"]
        if not isinstance(e.get("ts"), (int, float)) or e["ts"] + (e.get("dur") or 0) <= end
    ]
    return save(doc, dst)


def renamed_kernel(src: Path, dst: Path, old: str, new: str) -> Path:
    doc = load(src)
    for e in doc["traceEvents"]:
        if e.get("cat") == "kernel" and e.get("name") == old:
            e["name"] = new
    return save(doc, dst)


def reshaped(src: Path, dst: Path, op: str, dims: list) -> Path:
    doc = load(src)
    for e in doc["traceEvents"]:
        if e.get("cat") == "cpu_op" and e.get("name") == op and "Input Dims" in e.get("args", {}):
            e["args"]["Input Dims"] = dims
    return save(doc, dst)


def gpu_model(src: Path, dst: Path, name: str) -> Path:
    doc = load(src)
    for d in doc.get("deviceProperties", []):
        d["name"] = name
    return save(doc, dst)
