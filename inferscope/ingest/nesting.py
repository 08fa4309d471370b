"""Depth and parent of nested ranges (NVTX push/pop, Kineto CPU ops), shared by every ingest path.

Done with numpy rather than SQL: a window-function sweep sorts all start/end events within one partition per
thread, and real traces have millions of ranges on one or two threads, which DuckDB sorts single-threaded per
partition. Sorting once with lexsort and a cumulative sum gives the same result in a fraction of the time.

Rules: ranges nest per (pid, tid) when their style is PushPop; at equal timestamps ends are swept before starts
(touching ranges are siblings) and a longer range starts before a shorter one that begins with it. A range's
parent is the nearest preceding range, in (thread, start, -end) order, one level up on the same thread.
StartEnd ranges do not nest: depth 0, no parent.
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def nest(ranges: pa.Table) -> pa.Table:
    """Return `ranges` with `depth` (int64) and `parent_id` (int64, NULL at depth 0) filled in."""
    n = ranges.num_rows
    depth = np.zeros(n, dtype=np.int64)
    parent = np.full(n, -1, dtype=np.int64)
    if n:
        pushpop = pc.fill_null(pc.equal(ranges.column("style"), "PushPop"), False).to_numpy(zero_copy_only=False)
        idx = None if pushpop.all() else np.nonzero(pushpop)[0]  # usually every range is PushPop: no gather
        if idx is None or idx.size:
            thread = _int64(ranges, "pid", idx) << 24 | _int64(ranges, "tid", idx)
            d, p = _nest_one_style(thread, _int64(ranges, "start_ns", idx), _int64(ranges, "end_ns", idx))
            if idx is None:
                depth, parent = d, p
            else:
                depth[idx] = d
                parent[idx] = np.where(p >= 0, idx[np.maximum(p, 0)], -1)
    range_ids = ranges.column("range_id").to_numpy(zero_copy_only=False)
    parent_ids = pa.array(np.where(parent >= 0, range_ids[np.maximum(parent, 0)], 0), mask=parent < 0,
                          type=pa.int64())
    out = ranges
    for name, col in (("depth", pa.array(depth, type=pa.int64())), ("parent_id", parent_ids)):
        if name in out.column_names:
            out = out.set_column(out.column_names.index(name), name, col)
        else:
            out = out.append_column(name, col)
    return out


def _int64(table: pa.Table, column: str, idx) -> np.ndarray:
    values = table.column(column).to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
    return values if idx is None else values[idx]


def _preorder(thread: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """The permutation sorting by (thread, start, -end, row), the order in which parents precede children.

    Equivalent to np.lexsort((-end, start, thread)) but about 2.5x faster on real traces: ranges come nearly
    sorted by start, which the stable (tim)sort exploits; equal starts are rare and re-sorted by -end on their
    own; threads are few, so their codes sort as 16-bit integers (radix sort)."""
    order = np.argsort(start, kind="stable")
    s = start[order]
    tie = np.flatnonzero(s[1:] == s[:-1])
    if tie.size:  # runs of equal start, each contiguous in `order`: longer range first, stably
        pos = np.union1d(tie, tie + 1)
        sub = order[pos]
        order[pos] = sub[np.lexsort((-end[sub], start[sub]))]
    codes = pc.dictionary_encode(pa.array(thread)).indices.to_numpy()
    codes = codes.astype(np.uint16) if codes.max(initial=0) < 65536 else codes
    return order[np.argsort(codes[order], kind="stable")]


def _nest_one_style(thread, start, end):
    """Depth and parent (row index or -1) of properly nested ranges, one pass per thread.

    In pre-order (start ascending, longer first) a range's depth is the number of earlier ranges on its thread
    that have not ended by its start: (its rank) - (earlier ranges with end <= its start). Ends are counted with
    one searchsorted over the thread's sorted ends, minus the empty ranges at the same start that sort after it.
    """
    n = start.size
    order = _preorder(thread, start, end)
    s, e, t = start[order], end[order], thread[order]
    bounds = np.concatenate([[0], np.flatnonzero(t[1:] != t[:-1]) + 1, [n]])
    depth_sorted = np.empty(n, np.int64)
    parent_sorted = np.full(n, -1, np.int64)
    for a, b in zip(bounds[:-1], bounds[1:]):
        ss, ee = s[a:b], e[a:b]
        rank = np.arange(b - a)
        done = np.searchsorted(np.sort(ee), ss, side="right")
        g0, g1 = _equal_runs(ss)
        zero_cum = np.concatenate([[0], np.cumsum(ee == ss)])
        first_zero = g1 - (zero_cum[g1] - zero_cum[g0])
        done_before = done - (g1 - np.maximum(rank, first_zero))
        d = rank - done_before
        depth_sorted[a:b] = d
        for level in range(1, int(d.max(initial=0)) + 1):
            child = np.flatnonzero(d == level)
            cand = np.flatnonzero(d == level - 1)
            if child.size and cand.size:
                k = np.searchsorted(cand, child, side="right") - 1
                ok = k >= 0
                parent_sorted[a + child[ok]] = a + cand[k[ok]]
    depth = np.empty(n, np.int64)
    depth[order] = depth_sorted
    parent = np.full(n, -1, np.int64)
    has = parent_sorted >= 0
    parent[order[has]] = order[parent_sorted[has]]
    return depth, parent


def _equal_runs(sorted_values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each element of a sorted array, where its run of equal values begins and ends (exclusive): what
    searchsorted(a, a, 'left'/'right') returns, in linear time."""
    n = sorted_values.size
    new = np.empty(n, dtype=bool)
    new[:1] = True
    np.not_equal(sorted_values[1:], sorted_values[:-1], out=new[1:])
    starts = np.flatnonzero(new)
    run = np.cumsum(new) - 1
    ends = np.append(starts[1:], n)
    return starts[run], ends[run]
