"""Perfetto track ids: which (pid, tid) each Chrome-trace event goes on, so that every track nests strictly.

Perfetto's JSON importer wants complete ("X") events on one track to nest strictly; nsys draws NVTX ranges,
CUDA API calls and OS runtime calls of a thread on separate rows for the same reason. So every (thread, kind)
gets its own track, and anything that still overlaps without nesting (a clock-precision sliver, two overlapping
findings) moves to an extra "overlap" lane instead of being silently mangled by the importer.

Track ids: host tracks keep the real pid; a thread's NVTX track keeps the real tid, its other kinds get
synthetic tids from SYNTHETIC_TID_BASE up. GPUs are processes GPU_PID_BASE + device_id with one track per stream;
findings are process FINDINGS_PID, sorted first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

import numpy as np
import orjson

GPU_PID_BASE = 1 << 24
FINDINGS_PID = GPU_PID_BASE - 1
SYNTHETIC_TID_BASE = 1 << 30
HOST_LANES = {"nvtx": "NVTX", "cuda_api": "CUDA API", "osrt": "OS runtime", "samples": "CPU samples"}


@dataclass
class Tracks:
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
            yield orjson.dumps(
                {"ph": "M", "name": "process_sort_index", "pid": pid, "tid": 0, "args": {"sort_index": sort}}
            )
        for (pid, tid), (name, sort) in sorted(self.threads.items()):
            yield orjson.dumps({"ph": "M", "name": "thread_name", "pid": pid, "tid": tid, "args": {"name": name}})
            yield orjson.dumps(
                {"ph": "M", "name": "thread_sort_index", "pid": pid, "tid": tid, "args": {"sort_index": sort}}
            )


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


def track_ids(group: np.ndarray, lanes: np.ndarray, allocate) -> np.ndarray:
    """tid per event: one `allocate(first_event_index, lane)` call per distinct (group, lane) track."""
    key = group.astype(np.int64) * 4096 + lanes
    uniq, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    tids = np.array([allocate(int(i), int(lane)) for i, lane in zip(first, uniq % 4096)], dtype=np.int64)
    return tids[inverse.reshape(-1)]


def group_ids(*arrays: np.ndarray) -> np.ndarray:
    """Dense ids for the distinct tuples of `arrays` (already sorted by them), in order of appearance."""
    n = len(arrays[0])
    change = np.zeros(n, dtype=bool)
    if n:
        change[0] = True
        for a in arrays:
            change[1:] |= a[1:] != a[:-1]
    return np.cumsum(change) - 1
