"""GPU_METRICS -> the model's `gpu_metrics` samples and `gpu_metric_info` series, streamed in two passes.

An hour of 10 kHz sampling on 8 GPUs is about 300 M samples per metric: loading GPU_METRICS whole and sorting it
in one window query (the earlier SQL) held about 290 bytes a sample. nsys writes each series (one metric of one
metric source) in time order, so both passes read the raw table batch by batch in its stored order and keep a few
numbers per series between batches:

- pass 1 (`scan`) counts each series, finds its span and largest value, and gathers the histogram of its sample
  spacings, whose median is the series' sampling period;
- pass 2 (`samples`) gives each sample its end (the next sample's time; one period where the sampler paused for
  over 4 periods, or after the last sample), scales clocks recorded in Hz to MHz, and adds the running integrals
  of its series (sample_index, cum_value_ns, cum_covered_ns: see sql/views/gpu_metric_integrals.sql). The last
  sample of each series in a batch waits for the next batch, which holds its successor.

Memory is one batch plus the spacing histograms. An export whose series are not in time order (an edited or merged
file) is first sorted by DuckDB into a temporary Parquet file, under its memory cap (it spills), so the numbers
never depend on the stored order. Rows are written in batch order, each batch grouped by series; every reader of the table orders or groups
by (device_id, metric_id, ts_ns) itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

import numpy as np
import pyarrow as pa

# rows handed to numpy at a time, whatever size the reader's batches have
BATCH_ROWS = 1 << 20
# a gap longer than this many sampling periods is a pause of the sampler, not one long sample
PAUSE_PERIODS = 4
# a `[MHz]` series whose largest value exceeds this (100 GHz) was recorded in Hz (nsys 2025.3): divided by 1e6
HZ_ABOVE = 100_000


@dataclass
class _Series:
    """What pass 1 keeps of one series between batches, and pass 2's running state."""

    count: int = 0
    first: int = 0
    last: int = 0
    max_value: float = float("-inf")
    ordered: bool = True
    spacings: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)
    spacing_rows: int = 0
    period: int = 0
    # pass 2
    held_ts: int | None = None
    held_value: float = 0.0
    index: int = 0
    cum_value: float = 0.0
    cum_covered: int = 0

    def add_spacings(self, steps: np.ndarray) -> None:
        values, counts = np.unique(steps, return_counts=True)
        self.spacings.append((values, counts))
        self.spacing_rows += len(values)
        if self.spacing_rows > 1 << 16 and len(self.spacings) > 1:  # fold the pieces into one histogram
            values, inverse = np.unique(np.concatenate([v for v, _ in self.spacings]), return_inverse=True)
            counts = np.bincount(inverse, weights=np.concatenate([c for _, c in self.spacings])).astype(np.int64)
            self.spacings = [(values, counts)]
            self.spacing_rows = len(values)

    def median_spacing(self) -> int:
        """The median of the spacings (the mean of the two middle ones for an even count, rounded down), 0 for a
        series of one sample."""
        if not self.spacings:
            return 0
        values, inverse = np.unique(np.concatenate([v for v, _ in self.spacings]), return_inverse=True)
        counts = np.bincount(inverse, weights=np.concatenate([c for _, c in self.spacings]))
        total = int(counts.sum())
        if total == 0:
            return 0
        cumulative = np.cumsum(counts)
        lower = values[np.searchsorted(cumulative, (total - 1) // 2, side="right")]
        upper = values[np.searchsorted(cumulative, total // 2, side="right")]
        return int((int(lower) + int(upper)) // 2)


def rebatch(batches: Iterable[pa.Table], rows: int | None = None) -> Iterator[pa.Table]:
    """The tables of `batches` joined into tables of at least `rows` rows (BATCH_ROWS; readers hand on anything
    from a thousand rows to a whole table), the last one shorter."""
    rows = rows or BATCH_ROWS
    pending: list[pa.Table] = []
    size = 0
    for batch in batches:
        if batch.num_rows == 0:
            continue
        pending.append(batch)
        size += batch.num_rows
        if size >= rows:
            yield pa.concat_tables(pending, promote_options="permissive")
            pending, size = [], 0
    if pending:
        yield pa.concat_tables(pending, promote_options="permissive")


def _chain(first: pa.RecordBatch, rest: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    yield first
    for batch in rest:
        yield batch.cast(first.schema) if batch.schema != first.schema else batch


def _columns(batch: pa.Table) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(typeId, metricId, timestamp, value) as numpy, rows without a time or a value left out (the earlier SQL's
    WHERE)."""
    import pyarrow.compute as pc

    keep = pc.and_(pc.is_valid(batch.column("timestamp")), pc.is_valid(batch.column("value")))
    if keep.null_count or not pc.all(keep).as_py():
        batch = batch.filter(keep)

    def ints(name: str) -> np.ndarray:
        col = batch.column(name)
        if not pa.types.is_integer(col.type):
            col = col.cast(pa.int64())  # REAL timestamps in an edited export; a text one fails as it did in SQL
        return col.to_numpy().astype(np.int64, copy=False)

    value = batch.column("value").cast(pa.float64()).to_numpy()
    return ints("typeId"), ints("metricId"), ints("timestamp"), value


def _groups(type_ids: np.ndarray, metric_ids: np.ndarray) -> Iterator[tuple[tuple[int, int], np.ndarray]]:
    """((typeId, metricId), row positions in stored order) for each series present in the batch."""
    types, type_index = np.unique(type_ids, return_inverse=True)
    key = type_index.astype(np.int64) * (int(metric_ids.max()) + 1 if len(metric_ids) else 1) + metric_ids
    if len(key) and metric_ids.min() < 0:  # a negative metric id would collide: fall back to a pair sort
        key = np.unique(np.stack([type_index, metric_ids], axis=1), axis=0, return_inverse=True)[1].reshape(-1)
    order = np.argsort(key, kind="stable")
    ordered_keys = key[order]
    cuts = np.flatnonzero(np.diff(ordered_keys)) + 1
    for rows in np.split(order, cuts):
        if len(rows):
            first = rows[0]
            yield (int(type_ids[first]), int(metric_ids[first])), rows


class MetricSeries:
    """The two passes over one export's GPU_METRICS. `read` gives the raw table's batches afresh on each call
    (stored order); `sources` maps (typeId, metricId) to (device_id, metric_id, unit) for the metrics the export
    names (samples of any other are left out, as before)."""

    def __init__(self, read: Callable[[], Iterable[pa.Table]], sources: dict[tuple[int, int], tuple[int, str, str]]):
        self._read = read
        self.sources = sources
        self.series: dict[tuple[int, int], _Series] = {}
        self._sorted_dir = None
        self._scan(self._read())
        if not all(s.ordered for s in self.series.values()):
            # an export not in time order: sorted by DuckDB into a temporary Parquet file (it spills past its memory
            # cap), which both passes then read in order
            self._read = self._sorted_copy()
            self.series = {}
            self._scan(self._read())
        for s in self.series.values():
            s.period = s.median_spacing()

    def _sorted_copy(self) -> Callable[[], Iterable[pa.Table]]:
        import tempfile

        import pyarrow.parquet as pq

        from .. import duckdb_conn

        self._sorted_dir = tempfile.TemporaryDirectory(prefix="inferscope-gpu-metrics-")
        path = f"{self._sorted_dir.name}/GPU_METRICS.parquet"
        batches = (b for t in self._read() for b in t.to_batches())
        first = next(batches, None)
        if first is None:
            return lambda: []
        stream = pa.RecordBatchReader.from_batches(first.schema, _chain(first, batches))
        con = duckdb_conn.connect()
        try:
            con.register("raw_gpu_metrics", stream)
            con.execute(
                f"COPY (SELECT * FROM raw_gpu_metrics ORDER BY typeId, metricId, \"timestamp\", value) TO '{path}' "
                "(FORMAT parquet, COMPRESSION zstd)"
            )
        finally:
            con.close()
        return lambda: (pa.Table.from_batches([b]) for b in pq.ParquetFile(path).iter_batches(batch_size=BATCH_ROWS))

    def _scan(self, batches: Iterable[pa.Table]) -> None:
        for batch in rebatch(batches):
            type_ids, metric_ids, ts, value = _columns(batch)
            if not len(ts):
                continue
            for key, rows in _groups(type_ids, metric_ids):
                s = self.series.get(key)
                if s is None:
                    s = self.series[key] = _Series(first=int(ts[rows[0]]))
                t = ts[rows]
                steps = np.diff(t, prepend=s.last) if s.count else np.diff(t)
                if len(steps) and steps.min() < 0:
                    s.ordered = False
                s.add_spacings(steps)
                s.count += len(t)
                s.first = min(s.first, int(t.min()))
                s.last = int(t[-1]) if s.ordered else max(s.last, int(t.max()))
                s.max_value = max(s.max_value, float(value[rows].max()))

    def info(self) -> pa.Table:
        """One row per sampled series: typeId, metricId, samples, first_ns, last_ns, period_ns (the raw side of
        sql/ingest/nsys/gpu_metric_info.sql)."""
        keys = sorted(self.series)
        rows = [self.series[k] for k in keys]
        return pa.table(
            {
                "typeId": pa.array([k[0] for k in keys], pa.int64()),
                "metricId": pa.array([k[1] for k in keys], pa.int64()),
                "samples": pa.array([s.count for s in rows], pa.int64()),
                "first_ns": pa.array([s.first for s in rows], pa.int64()),
                "last_ns": pa.array([s.last for s in rows], pa.int64()),
                "period_ns": pa.array([s.period for s in rows], pa.int64()),
            }
        )

    def samples(self, schema: pa.Schema) -> pa.RecordBatchReader:
        """Pass 2 as a stream of the model's `gpu_metrics` rows (`schema`), about BATCH_ROWS rows a batch."""
        return pa.RecordBatchReader.from_batches(schema, self._samples(schema))

    def _samples(self, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
        names = sorted({metric for _, metric, _ in self.sources.values()})
        name_index = {n: i for i, n in enumerate(names)}
        dictionary = pa.array(names, pa.string())
        for s in self.series.values():
            s.held_ts, s.index, s.cum_value, s.cum_covered = None, 0, 0.0, 0
        # Each batch is held until the next one exists, so that the series' last samples join the last batch: a
        # capture of under BATCH_ROWS samples is then one row group, which DuckDB scans on one thread, and its
        # floating-point sums come out the same on every run.
        held = None
        for batch in rebatch(self._read()):
            type_ids, metric_ids, ts, value = _columns(batch)
            parts = [
                self._emit(key, self.series[key], ts[rows], value[rows])
                for key, rows in _groups(type_ids, metric_ids)
                if key in self.sources
            ]
            out = self._batch([p for p in parts if p is not None], schema, name_index, dictionary)
            if out is not None:
                if held is not None:
                    yield held
                held = out
        tails = [self._emit(key, s, None, None) for key, s in self.series.items() if key in self.sources]
        out = self._batch([p for p in tails if p is not None], schema, name_index, dictionary)
        if held is not None and out is not None:
            out = pa.Table.from_batches([held, out]).combine_chunks().to_batches()[0]
        elif out is None:
            out = held
        if out is not None:
            yield out
        if self._sorted_dir is not None:  # the sorted copy of an export out of time order: read for the last time
            self._sorted_dir.cleanup()

    def _emit(self, key: tuple[int, int], s: _Series, ts: np.ndarray | None, value: np.ndarray | None):
        """The finished samples of one series in one batch: every sample whose successor is known; `ts` None
        flushes the held last sample, which holds for one period."""
        device_id, metric, unit = self.sources[key]
        scale = 1e-6 if unit == "MHz" and s.max_value > HZ_ABOVE else 1.0
        if ts is None:
            if s.held_ts is None:
                return None
            t = np.array([s.held_ts], np.int64)
            end = t + s.period
            v = np.array([s.held_value])
            s.held_ts = None
        else:
            if s.held_ts is not None:
                ts = np.concatenate([[s.held_ts], ts])
                value = np.concatenate([[s.held_value], value])
            s.held_ts, s.held_value = int(ts[-1]), float(value[-1])
            if len(ts) == 1:
                return None
            t, v = ts[:-1], value[:-1]
            step = np.diff(ts)
            end = t + np.where(step > PAUSE_PERIODS * s.period, s.period, step)
        v = v * scale if scale != 1.0 else v.astype(np.float64, copy=False)
        covered = end - t
        weighted = v * covered
        cum_value = np.cumsum(weighted)
        cum_covered = np.cumsum(covered)
        n = len(t)
        before_value = s.cum_value + np.concatenate([[0.0], cum_value[:-1]])
        before_covered = s.cum_covered + np.concatenate([[0], cum_covered[:-1]]).astype(np.int64)
        index = s.index + np.arange(n, dtype=np.int64)
        s.cum_value += float(cum_value[-1])
        s.cum_covered += int(cum_covered[-1])
        s.index += n
        return metric, device_id, t, end, v, index, before_value, before_covered

    @staticmethod
    def _batch(parts, schema: pa.Schema, name_index: dict[str, int], dictionary: pa.Array) -> pa.RecordBatch | None:
        if not parts:
            return None
        metric_codes = np.concatenate([np.full(len(p[2]), name_index[p[0]], np.int32) for p in parts])
        columns = {
            "ts_ns": pa.array(np.concatenate([p[2] for p in parts])),
            "end_ns": pa.array(np.concatenate([p[3] for p in parts])),
            "device_id": pa.array(np.concatenate([np.full(len(p[2]), p[1], np.int64) for p in parts])),
            "metric_id": pa.DictionaryArray.from_arrays(pa.array(metric_codes), dictionary),
            "value": pa.array(np.concatenate([p[4] for p in parts])),
            "sample_index": pa.array(np.concatenate([p[5] for p in parts])),
            "cum_value_ns": pa.array(np.concatenate([p[6] for p in parts])),
            "cum_covered_ns": pa.array(np.concatenate([p[7] for p in parts])),
        }
        return pa.RecordBatch.from_arrays([columns[f.name].cast(f.type) for f in schema], schema=schema)
