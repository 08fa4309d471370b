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
        idx = np.nonzero(pushpop)[0]
        if idx.size:
            pid = ranges.column("pid").to_numpy(zero_copy_only=False)[idx].astype(np.int64)
            tid = ranges.column("tid").to_numpy(zero_copy_only=False)[idx].astype(np.int64)
            start = ranges.column("start_ns").to_numpy(zero_copy_only=False)[idx].astype(np.int64)
            end = ranges.column("end_ns").to_numpy(zero_copy_only=False)[idx].astype(np.int64)
            d, p = _nest_one_style(pid, tid, start, end)
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


def _nest_one_style(pid, tid, start, end):
    """Depth and parent (row index or -1) of properly nested ranges, one pass per thread.

    In pre-order (start ascending, longer first) a range's depth is the number of earlier ranges on its thread
    that have not ended by its start: (its rank) - (earlier ranges with end <= its start). Ends are counted with
    one searchsorted over the thread's sorted ends, minus the empty ranges at the same start that sort after it.
    """
    n = start.size
    order = np.lexsort((np.arange(n), -end, start, tid, pid))
    s, e, p, t = start[order], end[order], pid[order], tid[order]
    bounds = np.concatenate([[0], np.flatnonzero((p[1:] != p[:-1]) | (t[1:] != t[:-1])) + 1, [n]])
    depth_sorted = np.empty(n, np.int64)
    parent_sorted = np.full(n, -1, np.int64)
    for a, b in zip(bounds[:-1], bounds[1:]):
        ss, ee = s[a:b], e[a:b]
        rank = np.arange(b - a)
        done = np.searchsorted(np.sort(ee), ss, side="right")
        g0 = np.searchsorted(ss, ss, side="left")
        g1 = np.searchsorted(ss, ss, side="right")
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
