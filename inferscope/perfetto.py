"""Chrome-trace JSON for ui.perfetto.dev: the whole trace model on labelled tracks, plus the findings.

Perfetto's JSON importer wants complete ("X") events on one track to nest strictly; nsys draws NVTX ranges,
CUDA API calls and OS runtime calls of a thread on separate rows for the same reason. So every (thread, kind)
gets its own track, and anything that still overlaps without nesting (a clock-precision sliver, two overlapping
findings) moves to an extra "overlap" track instead of being silently mangled by the importer.

Track ids: host tracks keep the real pid; a thread's NVTX track keeps the real tid, its other kinds get
synthetic tids from SYNTHETIC_TID_BASE up. GPUs are processes GPU_PID_BASE + device_id with one track per stream;
findings are process FINDINGS_PID, sorted first. Times are written as exact decimal microseconds (ns / 1000 with
three decimals), so no nanosecond is lost to float formatting.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

import numpy as np
import orjson

from . import __version__
from .outputs import atomic_write
from .resources import read_sql

if TYPE_CHECKING:
    from .trace import Trace

GPU_PID_BASE = 1 << 24
FINDINGS_PID = GPU_PID_BASE - 1
SYNTHETIC_TID_BASE = 1 << 30
HOST_LANES = {"nvtx": "NVTX", "cuda_api": "CUDA API", "osrt": "OS runtime", "samples": "CPU samples"}


def us(ns: int) -> str:
    """ns -> exact decimal microseconds, the unit Chrome-trace `ts`/`dur` use."""
    sign = "-" if ns < 0 else ""
    q, r = divmod(abs(int(ns)), 1000)
    return f"{sign}{q}.{r:03d}" if r else f"{sign}{q}"


@dataclass
class _Tracks:
    """Allocates (pid, tid) pairs for logical tracks and remembers their labels for the metadata events."""

    processes: dict[int, tuple[str, int]] = field(default_factory=dict)  # pid -> (name, sort index)
    threads: dict[tuple[int, int], tuple[str, int]] = field(default_factory=dict)  # (pid, tid) -> (name, sort)
    by_key: dict[tuple, int] = field(default_factory=dict)
    next_tid: int = SYNTHETIC_TID_BASE

    def process(self, pid: int, name: str, sort_index: int) -> None:
        self.processes.setdefault(pid, (name, sort_index))

    def thread(self, key: tuple, pid: int, name: str, sort_index: int, tid: int | None = None) -> int:
        """The tid for a logical track `key`; `tid` asks for a specific id (the real one) when still free."""
        if key in self.by_key:
            return self.by_key[key]
        if tid is None or (pid, tid) in self.threads:
            tid = self.next_tid
            self.next_tid += 1
        self.by_key[key] = tid
        self.threads[(pid, tid)] = (name, sort_index)
        return tid

    def metadata(self) -> Iterable[bytes]:
        for pid, (name, sort) in sorted(self.processes.items()):
            yield orjson.dumps({"ph": "M", "name": "process_name", "pid": pid, "tid": 0, "args": {"name": name}})
            yield orjson.dumps({"ph": "M", "name": "process_sort_index", "pid": pid, "tid": 0,
                                "args": {"sort_index": sort}})
        for (pid, tid), (name, sort) in sorted(self.threads.items()):
            yield orjson.dumps({"ph": "M", "name": "thread_name", "pid": pid, "tid": tid, "args": {"name": name}})
            yield orjson.dumps({"ph": "M", "name": "thread_sort_index", "pid": pid, "tid": tid,
                                "args": {"sort_index": sort}})


def nesting_lanes(group: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Lane per interval so that, within each group, intervals on one lane are disjoint or strictly nested.

    Input must be sorted by (group, start, -end). Lane 0 is the track itself; groups whose intervals never
    overlap (GPU streams, CUDA API calls) take a vectorised fast path, the rest a stack walk per lane.
    """
    n = len(start)
    lanes = np.zeros(n, dtype=np.int64)
    if n < 2:
        return lanes
    same = group[1:] == group[:-1]
    overlapping = same & (start[1:] < end[:-1])
    if not overlapping.any():
        return lanes
    bad_groups = np.unique(group[1:][overlapping])
    idx = np.flatnonzero(np.isin(group, bad_groups))
    stacks: list[list[int]] = []
    current = None
    for i in idx.tolist():
        g, s, e = group[i], int(start[i]), int(end[i])
        if g != current:
            current, stacks = g, [[]]
        for lane, stack in enumerate(stacks):
            while stack and stack[-1] <= s:
                stack.pop()
            if not stack or e <= stack[-1]:
                stack.append(e)
                lanes[i] = lane
                break
        else:
            stacks.append([e])
            lanes[i] = len(stacks) - 1
    return lanes


def _complete_events(rows, tids: np.ndarray, pids: np.ndarray) -> Iterable[bytes]:
    names, cats, args = rows["name"], rows["cat"], rows["args_json"]
    for k, (ts, dur) in enumerate(zip(rows["start_ns"].tolist(), rows["dur_ns"].tolist())):
        yield (b'{"ph":"X","cat":%b,"name":%b,"pid":%d,"tid":%d,"ts":%s,"dur":%s,"args":%s}' % (
            orjson.dumps(cats[k]), orjson.dumps(names[k]), pids[k], tids[k], us(ts).encode(),
            us(max(dur or 0, 0)).encode(), (args[k] or "{}").encode()))


_NUMERIC = ("start_ns", "dur_ns", "pid", "tid", "device_id", "stream_id")


def _columns(table) -> dict[str, Any]:
    """Numeric columns as int64 numpy (NULL -> -1), the rest as Python lists."""
    return {name: _null0(table.column(name).to_numpy(zero_copy_only=False)) if name in _NUMERIC
            else table.column(name).to_pylist() for name in table.column_names}


def _sorted(cols: dict, keys: list[str]) -> dict:
    end = cols["start_ns"] + np.maximum(cols["dur_ns"], 0)
    order = np.lexsort([-end, cols["start_ns"], *[cols[k] for k in reversed(keys)]])
    out = {k: (v[order] if isinstance(v, np.ndarray) else [v[i] for i in order]) for k, v in cols.items()}
    out["end_ns"] = end[order]
    return out


def _group_ids(*arrays: np.ndarray) -> np.ndarray:
    stacked = np.stack([np.asarray(a, dtype=np.int64) for a in arrays], axis=1)
    _, inverse = np.unique(stacked, axis=0, return_inverse=True)
    return inverse.reshape(-1)


def _null0(a: np.ndarray) -> np.ndarray:
    return np.nan_to_num(np.asarray(a, dtype=np.float64), nan=-1).astype(np.int64) if a.dtype.kind == "f" else a


class _Exporter:
    def __init__(self, trace: "Trace"):
        self.trace = trace
        self.tracks = _Tracks()
        self.launch_src: dict[tuple[int, int], tuple[int, int, int]] = {}  # (pid, corr) -> (pid, tid, ts)
        self.launch_dst: dict[tuple[int, int], tuple[int, int, int]] = {}
        names = trace.engine.query(read_sql("perfetto/names.sql")).to_pylist()
        self.process_names = {r["pid"]: r["name"] for r in names if r["tid"] is None and r["name"]}
        self.thread_names = {(r["pid"], r["tid"]): r["name"] for r in names if r["tid"] is not None and r["name"]}

    def _host_process(self, pid: int) -> None:
        self.tracks.process(pid, self.process_names.get(pid, "Process"), 0)  # Perfetto shows the pid beside it

    def _host_track(self, pid: int, tid: int, lane: str, overlap: int) -> int:
        tname = self.thread_names.get((pid, tid), "Thread")
        label = f"{HOST_LANES[lane]} ({tname} {tid})" + (f" overlap {overlap}" if overlap else "")
        order = list(HOST_LANES).index(lane)
        self._host_process(pid)
        return self.tracks.thread(("host", pid, tid, lane, overlap), pid, label, (order * 64 + overlap),
                                  tid=tid if lane == "nvtx" and not overlap else None)

    def gpu_events(self) -> Iterable[bytes]:
        devices = self.trace.engine.query(read_sql("perfetto/devices.sql")).to_pylist()
        for d in devices:
            label = f"GPU {d['device_id']}" + (f": {d['name']}" if d["name"] else "")
            self.tracks.process(GPU_PID_BASE + d["device_id"], label, -1000 + d["device_id"])
        table = self.trace.engine.query(read_sql("perfetto/gpu_ops.sql"))
        if table.num_rows == 0:
            return
        c = _sorted(_columns(table), ["device_id", "stream_id"])
        lanes = nesting_lanes(_group_ids(c["device_id"], c["stream_id"]), c["start_ns"], c["end_ns"])
        pids = GPU_PID_BASE + c["device_id"]
        tids = np.empty(len(lanes), dtype=np.int64)
        for k, (dev, stream, lane) in enumerate(zip(c["device_id"].tolist(), c["stream_id"].tolist(), lanes.tolist())):
            pid = GPU_PID_BASE + dev
            self.tracks.process(pid, f"GPU {dev}", -1000 + dev)
            label = f"Stream {stream}" + (f" overlap {lane}" if lane else "")
            tids[k] = self.tracks.thread(("gpu", dev, stream, lane), pid, label, stream * 64 + lane,
                                         tid=stream if not lane else None)
            corr = c["correlation_id"][k]
            if corr is not None and c["pid"][k] >= 0:
                self.launch_dst[(int(c["pid"][k]), corr)] = (pid, int(tids[k]), int(c["start_ns"][k]))
        yield from _complete_events(c, tids, pids)

    def host_events(self) -> Iterable[bytes]:
        table = self.trace.engine.query(read_sql("perfetto/host_slices.sql"))
        if table.num_rows == 0:
            return
        cols = _columns(table)
        cols["lane_code"] = np.array([list(HOST_LANES).index(x) for x in cols["lane"]], dtype=np.int64)
        c = _sorted(cols, ["pid", "tid", "lane_code"])
        lanes = nesting_lanes(_group_ids(c["pid"], c["tid"], c["lane_code"]), c["start_ns"], c["end_ns"])
        tids = np.empty(len(lanes), dtype=np.int64)
        for k, (pid, tid, lane, overlap) in enumerate(zip(c["pid"].tolist(), c["tid"].tolist(), c["lane"],
                                                          lanes.tolist())):
            tids[k] = self._host_track(pid, tid, lane, overlap)
            corr = c["correlation_id"][k]
            if corr is not None:
                self.launch_src[(pid, corr)] = (pid, int(tids[k]), int(c["start_ns"][k]))
        yield from _complete_events(c, tids, c["pid"])

    def sample_events(self) -> Iterable[bytes]:
        table = self.trace.engine.query(read_sql("perfetto/cpu_samples.sql"))
        for r in table.to_pylist():
            tid = self._host_track(r["pid"], r["tid"], "samples", 0)
            yield (b'{"ph":"i","s":"t","cat":"cpu_sample","name":%b,"pid":%d,"tid":%d,"ts":%s,"args":%s}' % (
                orjson.dumps(r["name"]), r["pid"], tid, us(r["ts_ns"]).encode(), r["args_json"].encode()))

    def flow_events(self) -> Iterable[bytes]:
        """Arrows from each CUDA API call to the GPU work it launched (matched on pid + correlation id)."""
        for n, (key, (dpid, dtid, dts)) in enumerate(self.launch_dst.items()):
            src = self.launch_src.get(key)
            if src is None:
                continue
            spid, stid, sts = src
            yield b'{"ph":"s","cat":"launch","name":"launch","id":%d,"pid":%d,"tid":%d,"ts":%s}' % (
                n, spid, stid, us(sts).encode())
            yield b'{"ph":"f","bp":"e","cat":"launch","name":"launch","id":%d,"pid":%d,"tid":%d,"ts":%s}' % (
                n, dpid, dtid, us(dts).encode())

    def finding_events(self, findings: list) -> Iterable[bytes]:
        if not findings:
            return
        self.tracks.process(FINDINGS_PID, "InferScope findings", -2000)
        rows = []
        for rank, f in enumerate(findings, 1):
            for start_ns, end_ns in finding_windows(f):
                rows.append((rank, start_ns, end_ns, f))
        rows.sort(key=lambda r: (r[0], r[1], -r[2]))
        if not rows:
            return
        lanes = nesting_lanes(np.array([r[0] for r in rows]), np.array([r[1] for r in rows]),
                              np.array([r[2] for r in rows]))
        for (rank, start_ns, end_ns, f), lane in zip(rows, lanes.tolist()):
            rule = _attr(f, "rule_id", "id", default="finding")
            label = f"#{rank} {rule}" + (f" overlap {lane}" if lane else "")
            tid = self.tracks.thread(("finding", rank, lane), FINDINGS_PID, label, rank * 64 + lane)
            args = {"rank": rank, "rule_id": rule, "severity": _attr(f, "severity"),
                    "impact_ms": round((_attr(f, "impact_ns", default=0) or 0) / 1e6, 3),
                    "summary": _attr(f, "summary"), "recommendation": _attr(f, "recommendation")}
            name = _attr(f, "title", default=rule) or rule
            yield (b'{"ph":"X","cat":"finding","name":%b,"pid":%d,"tid":%d,"ts":%s,"dur":%s,"args":%b}' % (
                orjson.dumps(name), FINDINGS_PID, tid, us(start_ns).encode(), us(max(end_ns - start_ns, 0)).encode(),
                orjson.dumps(args, default=str)))


def _attr(obj, *names: str, default=None):
    for n in names:
        value = obj.get(n) if isinstance(obj, dict) else getattr(obj, n, None)
        if value is not None:
            return value
    return default


def finding_windows(finding) -> list[tuple[int, int]]:
    """A finding's time windows as (start_ns, end_ns) pairs, whatever shape the analysis gives them in."""
    windows = _attr(finding, "windows", default=None)
    if windows is None:
        return []
    if hasattr(windows, "to_pylist"):
        windows = windows.to_pylist()
    out = []
    for w in windows:
        if isinstance(w, (tuple, list)):
            s, e = w[0], w[1]
        else:
            s, e = _attr(w, "start_ns"), _attr(w, "end_ns")
        if s is not None and e is not None:
            out.append((int(s), int(e)))
    return out


def export_perfetto(trace: "Trace", out: str | Path, findings: list | None = None) -> Path:
    """Write `trace` (and `findings`, ranked) as Chrome-trace JSON that ui.perfetto.dev and chrome://tracing open.

    The file appears only when complete (written to a temporary file beside it, then renamed).
    """
    out = Path(out)
    ex = _Exporter(trace)
    with atomic_write(out) as fh:
        fh.write(b'{"displayTimeUnit":"ns","otherData":%b,"traceEvents":[\n' % orjson.dumps({
            "producer": f"inferscope {__version__}", "source": trace.path.name,
            "source_format": trace.format, "clock": "ns since the profiling session start"}))
        first = True
        for gen in (ex.finding_events(findings or []), ex.gpu_events(), ex.host_events(), ex.sample_events(),
                    ex.flow_events(), ex.tracks.metadata()):
            for event in gen:
                fh.write(event if first else b",\n" + event)
                first = False
        fh.write(b"\n]}\n")
    return out
