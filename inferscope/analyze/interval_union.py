"""The interval unions behind gpu_busy, gpu_busy_by_pid and api_busy_by_thread, computed as one streamed sweep.

Why: their SQL (sql/views/*.sql, the definition) finds the union with three window passes and a GROUP BY, and
DuckDB sorts the rows for each window pass separately; with few partitions (a device and kind, a thread) each pass
runs on about one core. At 1M kernels gpu_busy alone took 1.6 s of a cold analysis and api_busy_by_thread 1.1 s.
Here DuckDB numbers the partitions and sorts the rows once (ORDER BY: parallel, and spilling to disk under the
memory limit), and the sweep runs over slices of the sorted rows in numpy, carrying the island still open from one
slice to the next, so memory is a slice, not the table. The rows are the SQL's own (tests/test_interval_union.py
compares them on real traces); a source with a missing start or end takes the SQL, whose NULL ordering the sweep
does not copy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..engine.core import DERIVED

BATCH_ROWS = 1 << 20


@dataclass(frozen=True)
class Union:
    keys: tuple[str, ...]  # the partition (the SQL's PARTITION BY)
    source: str  # the relation holding keys, start_ns and end_ns
    op_count: bool  # whether the view has op_count (operations per interval)


UNIONS = {
    "gpu_busy": Union(("device_id", "kind"), "gpu_busy_ops", True),
    "gpu_busy_by_pid": Union(("pid",), "gpu_ops", False),
    "api_busy_by_thread": Union(("pid", "tid"), "api_calls", False),
}


def materialize(engine, name: str) -> bool:
    """Create table `name` (one of UNIONS, through `engine.create_table`) with the rows of the view of that name;
    False, creating nothing, when the source has rows without a start or an end (then the caller runs the SQL)."""
    spec = UNIONS[name]
    # views are created through `engine.con` as statements name them; the rest runs on the raw connection, where a
    # DESCRIBE does not make every view of the catalog first
    con, raw = engine.con, engine.raw
    missing = f"SELECT count(*) FROM {spec.source} WHERE start_ns IS NULL OR end_ns IS NULL"
    if con.execute(missing).fetchall()[0][0]:
        return False
    # the view's column types (HUGEINT running sums, the keys' own types), bound without running it
    engine.create_table(name, f"SELECT * FROM main.{name} WHERE false")
    columns = [(r[0], r[1]) for r in raw.execute(f"DESCRIBE {DERIVED}.{name}").fetchall()]
    keys = ", ".join(spec.keys)
    same = " AND ".join(f"s.{k} IS NOT DISTINCT FROM p.{k}" for k in spec.keys)
    out = ", ".join(f"p.{c}" if c in spec.keys else f'CAST(r."{c}" AS {t}) AS "{c}"' for c, t in columns)
    # each partition numbered, and the rows sorted by (partition, start, end) into a scratch table read back a
    # slice of row ids at a time: the islands are written on the same connection between slices, which an open
    # result stream would not allow
    con.execute(
        f"CREATE TEMP TABLE _union_parts AS SELECT {keys}, row_number() OVER (ORDER BY {keys}) AS part "
        f"FROM (SELECT DISTINCT {keys} FROM {spec.source})"
    )
    try:
        con.execute(
            "CREATE TEMP TABLE _union_sorted AS SELECT p.part, s.start_ns, s.end_ns "
            f"FROM {spec.source} s JOIN _union_parts p ON {same} ORDER BY p.part, s.start_ns, s.end_ns"
        )
        n = raw.execute("SELECT count(*) FROM _union_sorted").fetchall()[0][0]
        sweep = _Sweep()
        for lo in range(0, n, BATCH_ROWS):
            rows = raw.execute(
                f"SELECT part, start_ns, end_ns FROM _union_sorted "
                f"WHERE rowid >= {lo} AND rowid < {lo + BATCH_ROWS} ORDER BY rowid"
            ).fetchnumpy()
            _insert(raw, name, out, sweep.feed(rows["part"], rows["start_ns"], rows["end_ns"]))
        _insert(raw, name, out, sweep.finish())
    finally:
        raw.execute("DROP TABLE IF EXISTS _union_sorted")
        raw.execute("DROP TABLE IF EXISTS _union_parts")
    return True


def _insert(raw, name: str, out: str, islands: dict) -> None:
    import pyarrow as pa

    if not islands["part"].size:
        return
    islands["dur_ns"] = islands["end_ns"] - islands["start_ns"]
    raw.register("_union_rows", pa.table(islands))
    try:
        raw.execute(f"INSERT INTO {DERIVED}.{name} SELECT {out} FROM _union_rows r JOIN _union_parts p USING (part)")
    finally:
        raw.unregister("_union_rows")


class _Sweep:
    """Islands of rows sorted by (partition, start, end). Between slices it keeps the open island: its partition,
    start, latest end, operations, and the busy time of the partition's earlier islands."""

    def __init__(self):
        self.part = None  # the open island's partition, None before any row
        self.start = self.end = self.count = self.cum = 0

    def feed(self, part: np.ndarray, start: np.ndarray, end: np.ndarray) -> dict:
        """The islands this slice closes (the open one of an earlier slice first, when its partition ended)."""
        part = np.asarray(part, dtype=np.int64)
        start = np.asarray(start, dtype=np.int64)
        end = np.asarray(end, dtype=np.int64)
        n = part.size
        if not n:
            return _islands([])
        continues = self.part is not None and int(part[0]) == self.part
        pieces = [] if continues else [self.finish()]
        bounds = np.concatenate([[0], np.flatnonzero(part[1:] != part[:-1]) + 1, [n]])
        for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist()):
            seg_start, seg_end = start[a:b], end[a:b]
            carried = a == 0 and continues
            # the latest end before each row of the partition (the open island's end included)
            before = np.empty(b - a, dtype=np.int64)
            before[1:] = np.maximum.accumulate(seg_end)[:-1]
            before[0] = self.end if carried else np.iinfo(np.int64).min
            if carried:
                np.maximum(before, self.end, out=before)
            opens = seg_start > before
            opens[0] |= not carried
            at = np.flatnonzero(opens)
            starts = seg_start[at]
            ends = np.maximum.reduceat(seg_end, at) if at.size else at
            counts = np.diff(np.append(at, b - a))
            cum0 = 0
            if carried:  # the rows before the first opener belong to the open island
                head = int(at[0]) if at.size else b - a
                if head:
                    self.end = max(self.end, int(seg_end[:head].max()))
                    self.count += head
                starts = np.concatenate([[self.start], starts])
                ends = np.concatenate([[self.end], ends])
                counts = np.concatenate([[self.count], counts])
                cum0 = self.cum
            cum = np.empty(starts.size, dtype=np.int64)
            cum[0] = cum0
            np.cumsum(ends[:-1] - starts[:-1], out=cum[1:])
            cum[1:] += cum0
            if b == n:  # the slice's last island may go on in the next slice
                self.part = int(part[a])
                self.start, self.end, self.count, self.cum = (int(v[-1]) for v in (starts, ends, counts, cum))
                starts, ends, counts, cum = starts[:-1], ends[:-1], counts[:-1], cum[:-1]
            pieces.append(
                {
                    "part": np.full(starts.size, part[a]),
                    "start_ns": starts,
                    "end_ns": ends,
                    "op_count": counts,
                    "cum_before_ns": cum,
                }
            )
        return _islands(pieces)

    def finish(self) -> dict:
        """The open island, if any."""
        if self.part is None:
            return _islands([])
        one = {
            "part": [self.part],
            "start_ns": [self.start],
            "end_ns": [self.end],
            "op_count": [self.count],
            "cum_before_ns": [self.cum],
        }
        self.part = None
        return _islands([one])


def _islands(pieces: list[dict]) -> dict:
    names = ("part", "start_ns", "end_ns", "op_count", "cum_before_ns")
    if not pieces:
        return {k: np.empty(0, np.int64) for k in names}
    return {k: np.concatenate([np.asarray(p[k], dtype=np.int64) for p in pieces]) for k in names}
