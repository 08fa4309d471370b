"""An independent reader of raw traces for the verdict corpus.

The corpus judges InferScope's verdicts, so the figures it judges them by must not come from InferScope: this
module reads an nsys SQLite export with `sqlite3` and a PyTorch-profiler (Kineto) trace with `json`/`gzip`, and
computes the few facts a performance engineer would look at first (how long each GPU was busy, how long it sat
idle inside its active span, how many kernels and copies, how many bytes, whether the host synchronised). It
shares no code with `inferscope/` or `sql/`, on purpose: a bug there cannot make both sides agree.

Conventions, chosen to match what a profiler user means by the words:
* busy: the union of kernel, memcpy and memset intervals of one device (overlapping streams count once);
* span: first GPU operation start to last GPU operation end of one device; trace span: over all devices;
* idle: span minus busy, per device, summed over devices;
* active devices: devices that ran at least one GPU operation (not the devices a trace lists).
"""

from __future__ import annotations

import gzip
import json
import re
import shutil
import sqlite3
import subprocess
import tempfile
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from tests.verdicts.busy_reader import busy_split

LAUNCH_CALLS = (
    "cudaLaunchKernel",
    "cudaLaunchKernelExC",
    "cuLaunchKernel",
    "cuLaunchKernelEx",
    "cudaGraphLaunch",
    "hipLaunchKernel",
    "hipExtModuleLaunchKernel",
)
MODULE_LOADS = ("cuModuleLoad", "cuLibraryLoad", "hipModuleLoad")
SYNC_CALLS = ("cudaStreamSynchronize", "cudaDeviceSynchronize", "cudaEventSynchronize")
# Kernels that move data between GPUs, by family (issue 19 class 4): NCCL/RCCL, NVLS multimem, vLLM's custom
# all-reduce, DeepEP, NVSHMEM.
COMM_KERNEL = re.compile(r"nccl|rccl|multimem|cross_device_reduce|all_reduce|allreduce|deep_ep|nvshmem", re.I)


@dataclass
class Facts:
    """What the reader found in one trace. Times in nanoseconds."""

    kind: str  # "nsys" or "kineto"
    ops: dict[int, list[tuple[int, int]]] = field(default_factory=dict)  # device -> [(start, end)]
    copies: dict[int, list[tuple[int, int]]] = field(default_factory=dict)  # device -> memcpy/memset intervals
    steps: list[tuple[int, int]] = field(default_factory=list)  # ProfilerStep#N ranges (host side)
    kernel_count: int = 0
    memcpy_count: int = 0
    memset_count: int = 0
    copy_bytes: Counter = field(default_factory=Counter)  # direction (HtoD, DtoH, DtoD, other) -> bytes
    pageable_copy_count: int = 0
    sync_call_count: int = 0  # cudaStream/Device/EventSynchronize calls on the host
    graph_launch_count: int = 0
    launch_call_count: int = 0
    comm_kernel_count: int = 0
    comm_kernel_ns: int = 0
    listed_devices: int = 0  # devices the trace's metadata lists
    compute_capability: dict[int, tuple[int, int]] = field(default_factory=dict)  # listed device -> (major, minor)
    rows_without_pid: int = 0  # GPU operation rows without a process id (nsys: globalPid NULL)
    max_launch_call_ns: int = 0  # the slowest kernel launch call (a first call that loads modules is slow)
    launch_call_ns: int = 0  # host time inside launch calls
    module_load_ns: int = 0  # host time inside module/library load calls (cuModuleLoad*, cuLibraryLoad*)
    nvtx_over_largest_gap: list[str] = field(default_factory=list)  # nsys: NVTX ranges spanning the largest gap
    # with a request file (read_requests): the slowest 1 % of streamed-token gaps against the rest, and the share of
    # each that overlapped a prefill step (None without requests)
    tail_gap_count: int | None = None
    tail_gap_prefill_pct: float | None = None
    rest_gap_prefill_pct: float | None = None
    # nsys with GPU metrics (busy_reader): measured kernel time by what the counters say it did; None without metrics
    kernel_busy_split: dict[str, int] | None = None

    # derived -----------------------------------------------------------------------------------------------
    @property
    def busy_by_device(self) -> dict[int, int]:
        return {d: union_ns(iv) for d, iv in self.ops.items()}

    @property
    def span_by_device(self) -> dict[int, int]:
        return {d: max(e for _, e in iv) - min(s for s, _ in iv) for d, iv in self.ops.items() if iv}

    @property
    def busy_ns(self) -> int:
        return sum(self.busy_by_device.values())

    @property
    def idle_ns(self) -> int:
        spans, busy = self.span_by_device, self.busy_by_device
        return sum(spans[d] - busy[d] for d in spans)

    @property
    def span_ns(self) -> int:
        every = [x for iv in self.ops.values() for x in iv]
        return max(e for _, e in every) - min(s for s, _ in every) if every else 0

    @property
    def busy_pct(self) -> float | None:
        spans = sum(self.span_by_device.values())
        return 100.0 * self.busy_ns / spans if spans else None

    @property
    def copy_busy_ns(self) -> int:
        return sum(union_ns(iv) for iv in self.copies.values())

    @property
    def copy_busy_pct(self) -> float:
        spans = sum(self.span_by_device.values())
        return 100.0 * self.copy_busy_ns / spans if spans else 0.0

    @property
    def step_count(self) -> int:
        return len(self.steps)

    @property
    def step_time_max_ns(self) -> int:
        return max((hi - lo for lo, hi in self.steps), default=0)

    @property
    def step_busy_pct_median(self) -> float | None:
        """The median over steps of (GPU busy inside the step, all devices' union) / step wall time."""
        every = sorted(x for iv in self.ops.values() for x in iv)
        shares = []
        for lo, hi in self.steps:
            clipped = [(max(s, lo), min(e, hi)) for s, e in every if e > lo and s < hi]
            shares.append(100.0 * union_ns(clipped) / (hi - lo) if hi > lo else 0.0)
        if not shares:
            return None
        shares.sort()
        mid = len(shares) // 2
        return shares[mid] if len(shares) % 2 else (shares[mid - 1] + shares[mid]) / 2

    @property
    def active_devices(self) -> int:
        return sum(1 for iv in self.ops.values() if iv)

    @property
    def largest_gap(self) -> tuple[int, int]:
        """(start, end) of the longest stretch inside a device's span with nothing running on it."""
        best = (0, 0)
        for iv in self.ops.values():
            end = None
            for s, e in sorted(iv):
                if end is not None and s - end > best[1] - best[0]:
                    best = (end, s)
                end = e if end is None else max(end, e)
        return best

    @property
    def largest_gap_ns(self) -> int:
        return self.largest_gap[1] - self.largest_gap[0]

    @property
    def largest_gap_pct(self) -> float:
        return 100.0 * self.largest_gap_ns / self.span_ns if self.span_ns else 0.0

    @property
    def comm_busy_pct_of_busy(self) -> float:
        return 100.0 * self.comm_kernel_ns / self.busy_ns if self.busy_ns else 0.0

    @property
    def h2d_bytes(self) -> int:
        return self.copy_bytes["HtoD"]

    @property
    def gpu_op_count(self) -> int:
        return self.kernel_count + self.memcpy_count + self.memset_count

    def value(self, name: str) -> float | int | None:
        """A fact by the name an expectation file uses."""
        return getattr(self, name)


def union_ns(intervals: list[tuple[int, int]]) -> int:
    total, cur_s, cur_e = 0, None, None
    for s, e in sorted(intervals):
        if cur_e is None or s > cur_e:
            if cur_e is not None:
                total += cur_e - cur_s
            cur_s, cur_e = s, e
        else:
            cur_e = max(cur_e, e)
    if cur_e is not None:
        total += cur_e - cur_s
    return total


# ------------------------------------------------------------------------------------------------- nsys SQLite
# CUPTI's copy kinds (CUpti_ActivityMemcpyKind) and nsys's memory kinds (ENUM_CUDA_MEM_KIND: 0 is pageable).
_COPY_KIND = {1: "HtoD", 2: "DtoH", 8: "DtoD", 10: "PtoP"}
_PAGEABLE = 0


def read_nsys(path: Path) -> Facts:
    path = Path(path)
    if path.name.endswith(".gz"):
        with tempfile.TemporaryDirectory() as tmp:
            plain = Path(tmp) / path.name[: -len(".gz")]
            with gzip.open(path, "rb") as src, open(plain, "wb") as dst:
                shutil.copyfileobj(src, dst)
            return read_nsys(plain)
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return _read_nsys(con)
    finally:
        con.close()


def _tables(con: sqlite3.Connection) -> set[str]:
    return {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def _columns(con: sqlite3.Connection, table: str) -> set[str]:
    return {r[1] for r in con.execute(f"PRAGMA table_info('{table}')")}


def _read_nsys(con: sqlite3.Connection) -> Facts:
    f = Facts(kind="nsys")
    tables = _tables(con)
    ops: dict[int, list[tuple[int, int]]] = defaultdict(list)
    copies: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for table, counter in (
        ("CUPTI_ACTIVITY_KIND_KERNEL", "kernel_count"),
        ("CUPTI_ACTIVITY_KIND_MEMCPY", "memcpy_count"),
        ("CUPTI_ACTIVITY_KIND_MEMSET", "memset_count"),
    ):
        if table not in tables:
            continue
        pid = "globalPid" if "globalPid" in _columns(con, table) else "NULL"
        n = 0
        for s, e, dev, gpid in con.execute(f'SELECT start, "end", deviceId, {pid} FROM {table}'):
            ops[dev].append((s, e))
            if counter != "kernel_count":
                copies[dev].append((s, e))
            n += 1
            f.rows_without_pid += gpid is None
        setattr(f, counter, n)
    f.ops, f.copies = dict(ops), dict(copies)
    if "CUPTI_ACTIVITY_KIND_MEMCPY" in tables:
        rows = con.execute("SELECT copyKind, srcKind, dstKind, bytes FROM CUPTI_ACTIVITY_KIND_MEMCPY")
        for kind, src, dst, nbytes in rows:
            f.copy_bytes[_COPY_KIND.get(kind, "other")] += nbytes or 0
            f.pageable_copy_count += (kind == 1 and src == _PAGEABLE) or (kind == 2 and dst == _PAGEABLE)
    names = _string_ids(con, tables)
    if "CUPTI_ACTIVITY_KIND_KERNEL" in tables:
        cols = _columns(con, "CUPTI_ACTIVITY_KIND_KERNEL")
        name_col = next(c for c in ("demangledName", "shortName", "mangledName") if c in cols)
        comm = [
            (s, e)
            for name_id, s, e in con.execute(f'SELECT {name_col}, start, "end" FROM CUPTI_ACTIVITY_KIND_KERNEL')
            if COMM_KERNEL.search(names.get(name_id, ""))
        ]
        f.comm_kernel_count, f.comm_kernel_ns = len(comm), union_ns(comm)
    if "CUPTI_ACTIVITY_KIND_RUNTIME" in tables:
        # nsys 2022.2 with --cudabacktrace writes some calls twice (eventClass 67); a call is its correlation id.
        seen: set[int] = set()
        rows = con.execute('SELECT correlationId, nameId, "end" - start FROM CUPTI_ACTIVITY_KIND_RUNTIME')
        for corr, name_id, dur in rows:
            if corr in seen:
                continue
            seen.add(corr)
            base = names.get(name_id, "").split("_v")[0]
            f.sync_call_count += base in SYNC_CALLS
            f.graph_launch_count += base == "cudaGraphLaunch"
            if base in LAUNCH_CALLS:
                f.launch_call_count += 1
                f.launch_call_ns += dur
                f.max_launch_call_ns = max(f.max_launch_call_ns, dur)
            f.module_load_ns += dur if base.startswith(MODULE_LOADS) else 0
    f.kernel_busy_split = busy_split(con, tables, names, COMM_KERNEL)
    if "TARGET_INFO_GPU" in tables:
        rows = con.execute("SELECT id, computeMajor, computeMinor FROM TARGET_INFO_GPU").fetchall()
        f.listed_devices = len(rows)
        f.compute_capability = {i: (ma, mi) for i, ma, mi in rows}
    elif "TARGET_INFO_CUDA_DEVICE" in tables:
        f.listed_devices = con.execute("SELECT count(*) FROM TARGET_INFO_CUDA_DEVICE").fetchone()[0]
    if "NVTX_EVENTS" in tables:
        by_id = "textId" in _columns(con, "NVTX_EVENTS") and "StringIds" in tables
        text = "coalesce(n.text, s.value)" if by_id else "n.text"
        join = "LEFT JOIN StringIds s ON s.id = n.textId" if by_id else ""
        f.steps = con.execute(
            f"SELECT n.start, n.\"end\" FROM NVTX_EVENTS n {join} WHERE {text} LIKE 'ProfilerStep#%' ORDER BY 1"
        ).fetchall()
        lo, hi = f.largest_gap
        if hi > lo:
            # ranges that cover the middle half of the gap and are not much longer than it: what ran then
            # (the range around a whole loop or program says nothing about this gap)
            f.nvtx_over_largest_gap = sorted(
                {
                    r[0]
                    for r in con.execute(
                        f'SELECT {text} FROM NVTX_EVENTS n {join} WHERE n.start <= ? AND n."end" >= ? '
                        f'AND n."end" - n.start <= ? AND {text} IS NOT NULL',
                        (lo + (hi - lo) // 4, hi - (hi - lo) // 4, 2 * (hi - lo)),
                    )
                }
            )
    return f


def _string_ids(con: sqlite3.Connection, tables: set[str]) -> dict[int, str]:
    if "StringIds" not in tables:
        return {}
    return dict(con.execute("SELECT id, value FROM StringIds"))


# ---------------------------------------------------------------------------------------------- Kineto JSON
_GPU_CATS = {"kernel": "kernel_count", "gpu_memcpy": "memcpy_count", "gpu_memset": "memset_count"}
_STEP = re.compile(r"^ProfilerStep#\d+$")


def read_kineto(path: Path) -> Facts:
    path = Path(path)
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as fh:
        doc = json.load(fh)
    events = doc["traceEvents"] if isinstance(doc, dict) else doc
    f = Facts(kind="kineto")
    ops: dict[int, list[tuple[int, int]]] = defaultdict(list)
    counts: Counter = Counter()
    comm: list[tuple[int, int]] = []
    copies: dict[int, list[tuple[int, int]]] = defaultdict(list)
    # the profiler's own recording window: a step annotation closed after it ends holds no measured time there
    windows = [e for e in events if e.get("ph") == "X" and str(e.get("cat", "")).lower() == "trace"]
    recording_end = max((round((float(e["ts"]) + float(e.get("dur", 0))) * 1000) for e in windows), default=None)
    for e in events:
        if e.get("ph") != "X":
            continue
        cat = str(e.get("cat", "")).lower()
        name = str(e.get("name", ""))
        args = e.get("args") or {}
        if cat in _GPU_CATS:
            start = round(float(e["ts"]) * 1000)
            end = start + round(float(e.get("dur", 0)) * 1000)
            dev = args.get("device", e.get("pid"))
            ops[int(dev)].append((start, end))
            if cat != "kernel":
                copies[int(dev)].append((start, end))
            counts[_GPU_CATS[cat]] += 1
            if cat == "gpu_memcpy":
                direction = next((d for d in ("HtoD", "DtoH", "DtoD", "PtoP") if d in name), "other")
                f.copy_bytes[direction] += int(args.get("bytes", 0) or 0)
                f.pageable_copy_count += "Pageable" in name
            if cat == "kernel" and COMM_KERNEL.search(name):
                comm.append((start, end))
        elif cat in ("cuda_runtime", "cuda_driver", "runtime"):
            f.sync_call_count += name in SYNC_CALLS
            f.graph_launch_count += name == "cudaGraphLaunch"
            dur = round(float(e.get("dur", 0)) * 1000)
            if name in LAUNCH_CALLS:
                f.launch_call_count += 1
                f.launch_call_ns += dur
                f.max_launch_call_ns = max(f.max_launch_call_ns, dur)
            f.module_load_ns += dur if name.startswith(MODULE_LOADS) else 0
        elif cat == "user_annotation" and _STEP.match(name):
            start = round(float(e["ts"]) * 1000)
            end = start + round(float(e.get("dur", 0)) * 1000)
            f.steps.append((start, min(end, recording_end) if recording_end and start < recording_end else end))
    f.steps.sort()
    f.ops, f.copies = dict(ops), dict(copies)
    f.comm_kernel_count, f.comm_kernel_ns = len(comm), union_ns(comm)
    f.kernel_count, f.memcpy_count, f.memset_count = (
        counts["kernel_count"],
        counts["memcpy_count"],
        counts["memset_count"],
    )
    props = doc.get("deviceProperties") or [] if isinstance(doc, dict) else []
    f.listed_devices = len(props)
    f.compute_capability = {
        int(p.get("id", i)): (int(p.get("computeMajor", 0)), int(p.get("computeMinor", 0))) for i, p in enumerate(props)
    }
    return f


# -------------------------------------------------------------------------------------------- request files
# vLLM's scheduler-step naming, the one the shared serving recordings use: N requests in prefill, M in decode.
_VLLM_STEP = re.compile(r"^execute_context_(\d+)\(([\d_]*)\)_generation_(\d+)\(([\d_]*)\)")


def kineto_prefill_steps(path: Path) -> tuple[int, list[tuple[int, int]]]:
    """(the trace clock's zero in UTC ns, [(start, end)] of the prefill steps on that clock): host annotations in
    vLLM's step naming with N > 0 requests in prefill."""
    opener = gzip.open if Path(path).name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as fh:
        doc = json.load(fh)
    steps = []
    for e in doc["traceEvents"]:
        m = _VLLM_STEP.match(str(e.get("name", "")))
        if m and e.get("ph") == "X" and e.get("cat") == "user_annotation" and int(m.group(1)) > 0:
            start = round(float(e["ts"]) * 1000)
            steps.append((start, start + round(float(e["dur"]) * 1000)))
    return int(doc["baseTimeNanoseconds"]), sorted(steps)


def _p99(values: list[float]) -> float:
    """The 99th percentile with linear interpolation between closest ranks (numpy's default)."""
    v = sorted(values)
    pos = 0.99 * (len(v) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (pos - lo)


def read_requests(f: Facts, trace: Path, requests: Path) -> Facts:
    """Adds the token-gap facts of an AIPerf request file joined to a Kineto serving trace: every streamed token's
    gap (previous token -> this one, first token + running sum of inter_chunk_latency, ms -> ns) of the completed
    requests, the slowest 1 % (at or above the p99 of all gaps, at least the slowest one) against the rest, and per
    part the share of gaps whose interval overlapped a prefill step."""
    zero, prefills = kineto_prefill_steps(trace)
    gaps = []
    for line in Path(requests).read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        m = r.get("metrics") or {}
        if r.get("error") or "ttft" not in m:
            continue
        t = r["metadata"]["timestamp_ns"] - zero + round(m["ttft"]["value"] * 1e6)
        for gap in m["inter_chunk_latency"]["value"]:
            g = round(gap * 1e6)
            gaps.append((g, t, t + g))
            t += g
    cut = min(_p99([g for g, _, _ in gaps]), max(g for g, _, _ in gaps))
    parts: dict[str, list[bool]] = {"tail": [], "rest": []}
    for g, lo, hi in gaps:
        parts["tail" if g >= cut else "rest"].append(any(s < hi and e > lo for s, e in prefills))
    f.tail_gap_count = len(parts["tail"])
    f.tail_gap_prefill_pct = 100.0 * sum(parts["tail"]) / len(parts["tail"])
    f.rest_gap_prefill_pct = 100.0 * sum(parts["rest"]) / len(parts["rest"]) if parts["rest"] else 0.0
    return f


# ------------------------------------------------------------------------------------------------------ entry
def read_nsys_rep(path: Path) -> Facts:
    """A .nsys-rep through NVIDIA's own exporter (`nsys export`, not InferScope's), then as an export."""
    nsys = shutil.which("nsys")
    if nsys is None:
        raise FileNotFoundError("reading a .nsys-rep needs the nsys CLI")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "export.sqlite"
        subprocess.run(
            [nsys, "export", "--type", "sqlite", "--output", str(out), str(path)],
            check=True,
            capture_output=True,
            timeout=300,
        )
        return read_nsys(out)


def read(path: Path, requests: Path | None = None) -> Facts:
    """The facts of one trace file, by its suffix (with a request file: its token-gap facts too)."""
    if requests is not None:
        return read_requests(read(path), path, requests)
    name = Path(path).name
    if name.endswith(".nsys-rep"):
        return read_nsys_rep(path)
    if name.endswith((".sqlite", ".sqlite.gz")):
        return read_nsys(path)
    if name.endswith((".json", ".json.gz")):
        return read_kineto(path)
    raise ValueError(f"the verdict reader does not read {name}")
