"""Chrome-trace JSON for ui.perfetto.dev: the whole trace model on labelled tracks, plus the findings.

Events come from the SQL of sql/perfetto/ and stream out in record batches; which track each goes on is
`perfetto_tracks`. Times are written as exact decimal microseconds (ns / 1000 with three decimals), so no
nanosecond is lost to float formatting.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Iterable

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from ..version import __version__
from ..duckdb_conn import arrow_reader
from ..errors import QueryError
from ..outputs import atomic_write
from ..resources import read_sql
from .perfetto_tracks import FINDINGS_PID, GPU_PID_BASE, HOST_LANES, Tracks, group_ids, nesting_lanes, track_ids

if TYPE_CHECKING:
    from ..engine.trace import Trace


def us(ns: int) -> str:
    """ns -> exact decimal microseconds, the unit Chrome-trace `ts`/`dur` use."""
    sign = "-" if ns < 0 else ""
    q, r = divmod(abs(int(ns)), 1000)
    return f"{sign}{q}.{r:03d}" if r else f"{sign}{q}"


class _Exporter:
    """Events are produced in two passes over the same ordered SQL: the numbers (track keys, start, end) come back
    as numpy to choose each event's track, then the JSON heads stream back in record batches and get their tid
    appended, so memory stays bounded by the batch size and no Python code runs per event except the nesting
    walk on tracks that need it."""

    BATCH = 500_000

    def __init__(self, trace: "Trace", window_ns: tuple[int | None, int | None]):
        self.trace = trace
        self.window_ns = window_ns
        self.con = trace.engine.con
        self.con.execute(read_sql("perfetto/perfetto_us.sql"))
        self.con.execute(f"SET VARIABLE perfetto_gpu_pid_base = {GPU_PID_BASE}")
        for name, value in zip(("perfetto_from_ns", "perfetto_to_ns"), window_ns):
            self.con.execute(f"SET VARIABLE {name} = {'NULL' if value is None else int(value)}::BIGINT")
        self.tracks = Tracks()
        self.launch_src: list = []
        self.launch_dst: list = []
        names = trace.engine.query(read_sql("perfetto/names.sql")).to_pylist()
        self.process_names = {r["pid"]: r["name"] for r in names if r["tid"] is None and r["name"]}
        self.thread_names = {(r["pid"], r["tid"]): r["name"] for r in names if r["tid"] is not None and r["name"]}

    def _host_track(self, pid: int, tid: int, lane: str, overlap: int) -> int:
        tname = self.thread_names.get((pid, tid), "Thread")
        label = f"{HOST_LANES[lane]} ({tname} {tid})" + (f" overlap {overlap}" if overlap else "")
        order = list(HOST_LANES).index(lane)
        self.tracks.process(pid, self.process_names.get(pid, "Process"), 0)  # Perfetto shows the pid beside it
        return self.tracks.thread(
            ("host", pid, tid, lane, overlap),
            pid,
            label,
            (order * 64 + overlap),
            tid=tid if lane == "nvtx" and not overlap else None,
        )

    def _gpu_track(self, device: int, stream: int, lane: int) -> int:
        pid = GPU_PID_BASE + device
        self.tracks.process(pid, f"GPU {device}", -1000 + device)
        label = f"Stream {stream}" + (f" overlap {lane}" if lane else "")
        return self.tracks.thread(
            ("gpu", device, stream, lane), pid, label, stream * 64 + lane, tid=stream if not lane else None
        )

    def _events(self, sql_file: str, keys: list[str], extra: list[str], track) -> Iterable[bytes]:
        """Complete or instant events of one SQL file: choose tracks, then stream the lines."""
        # a kernel, API call or range without a name (NULL in an edited or partial trace) would make its whole
        # line NULL; it is shown as "(unnamed)" instead
        sql = read_sql(f"perfetto/{sql_file}.sql").replace("to_json(name)", "to_json(coalesce(name, '(unnamed)'))")
        order = ", ".join(keys) + ", start_ns, end_ns DESC"
        cols = self.con.execute(
            f"SELECT {', '.join(keys + extra)}, start_ns, end_ns FROM ({sql}) ORDER BY {order}"
        ).fetchnumpy()
        if len(cols["start_ns"]) == 0:
            return
        cols = {k: np.asarray(v) for k, v in cols.items()}
        group = group_ids(*(cols[k] for k in keys))
        lanes = nesting_lanes(group, cols["start_ns"], cols["end_ns"])
        tids = track_ids(group, lanes, lambda i, lane: track(cols, i, lane))
        self._remember_launches(sql_file, cols, tids)
        reader = arrow_reader(self.con.sql(f"SELECT head FROM ({sql}) ORDER BY {order}"), self.BATCH)
        offset = 0
        for batch in reader:
            heads = batch.column(0)
            tid_text = pa.array(tids[offset : offset + len(heads)]).cast(pa.string())
            offset += len(heads)
            lines = pc.binary_join_element_wise(heads, tid_text, pa.scalar("}"), "")
            yield ",\n".join(lines.to_pylist()).encode()

    def _remember_launches(self, sql_file: str, cols: dict, tids: np.ndarray) -> None:
        if "correlation_id" not in cols:
            return
        keep = cols["correlation_id"] >= 0
        if sql_file == "host_slices":
            keep &= cols["lane_order"] == 1
            track_pid = cols["pid"]
        else:
            track_pid = GPU_PID_BASE + cols["device_id"]
        table = pa.table(
            {
                "pid": cols["pid"][keep],
                "correlation_id": cols["correlation_id"][keep],
                "track_pid": track_pid[keep],
                "track_tid": tids[keep],
                "ts_ns": cols["start_ns"][keep],
            }
        )
        (self.launch_src if sql_file == "host_slices" else self.launch_dst).append(table)

    def gpu_events(self) -> Iterable[bytes]:
        for d in self.trace.engine.query(read_sql("perfetto/devices.sql")).to_pylist():
            label = f"GPU {d['device_id']}" + (f": {d['name']}" if d["name"] else "")
            self.tracks.process(GPU_PID_BASE + d["device_id"], label, -1000 + d["device_id"])
        yield from self._events(
            "gpu_ops",
            ["device_id", "stream_id"],
            ["pid", "correlation_id"],
            lambda c, i, lane: self._gpu_track(int(c["device_id"][i]), int(c["stream_id"][i]), lane),
        )

    def host_events(self) -> Iterable[bytes]:
        yield from self._events(
            "host_slices",
            ["pid", "tid", "lane_order"],
            ["correlation_id"],
            lambda c, i, lane: self._host_track(
                int(c["pid"][i]), int(c["tid"][i]), list(HOST_LANES)[int(c["lane_order"][i])], lane
            ),
        )

    def sample_events(self) -> Iterable[bytes]:
        yield from self._events(
            "cpu_samples",
            ["pid", "tid"],
            [],
            lambda c, i, lane: self._host_track(int(c["pid"][i]), int(c["tid"][i]), "samples", lane),
        )

    def flow_events(self) -> Iterable[bytes]:
        """Arrows from each CUDA API call to the GPU work it launched (matched on pid + correlation id)."""
        if not self.launch_src or not self.launch_dst:
            return
        self.con.register("_perfetto_launch_src", pa.concat_tables(self.launch_src))
        self.con.register("_perfetto_launch_dst", pa.concat_tables(self.launch_dst))
        try:
            reader = arrow_reader(self.con.sql(read_sql("perfetto/flows.sql")), self.BATCH)
            for batch in reader:
                if batch.num_rows:
                    yield ",\n".join(batch.column(0).to_pylist()).encode()
        finally:
            self.con.unregister("_perfetto_launch_src")
            self.con.unregister("_perfetto_launch_dst")

    def finding_events(self, findings: list) -> Iterable[bytes]:
        if not findings:
            return
        self.tracks.process(FINDINGS_PID, "InferScope findings", -2000)
        rows = []
        lo, hi = self.window_ns
        span = self.con.execute("SELECT min(start_ns), max(end_ns) FROM gpu_ops").fetchall()[0]
        for rank, f in enumerate(findings, 1):
            # a finding about the whole trace (no windows) spans the GPU activity, so every finding is on the track
            windows = finding_windows(f) or ([span] if span[0] is not None else [])
            for start_ns, end_ns in windows:
                if (lo is None or end_ns >= lo) and (hi is None or start_ns <= hi):
                    rows.append((rank, start_ns, end_ns, f))
        rows.sort(key=lambda r: (r[0], r[1], -r[2]))
        if not rows:
            return
        lanes = nesting_lanes(
            np.array([r[0] for r in rows]), np.array([r[1] for r in rows]), np.array([r[2] for r in rows])
        )
        for (rank, start_ns, end_ns, f), lane in zip(rows, lanes.tolist()):
            rule = _attr(f, "rule_id", "id", default="finding")
            label = f"#{rank} {rule}" + (f" overlap {lane}" if lane else "")
            tid = self.tracks.thread(("finding", rank, lane), FINDINGS_PID, label, rank * 64 + lane)
            args = {
                "rank": rank,
                "rule_id": rule,
                "severity": _attr(f, "severity"),
                "impact_ms": round((_attr(f, "impact_ns", default=0) or 0) / 1e6, 3),
                "summary": _attr(f, "summary"),
                "recommendation": _attr(f, "recommendation"),
            }
            name = _attr(f, "title", default=rule) or rule
            yield (
                b'{"ph":"X","cat":"finding","name":%b,"pid":%d,"tid":%d,"ts":%s,"dur":%s,"args":%b}'
                % (
                    orjson.dumps(name),
                    FINDINGS_PID,
                    tid,
                    us(start_ns).encode(),
                    us(max(end_ns - start_ns, 0)).encode(),
                    orjson.dumps(args, default=str),
                )
            )


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


def window_ns(trace: "Trace", window_ms: tuple[float | None, float | None] | None) -> tuple[int | None, int | None]:
    """(start, end) ms since the first GPU activity (the report's timeline axis; the session start when the
    trace has no GPU work) -> absolute ns on the trace clock; None stays unbounded."""
    if not window_ms or window_ms == (None, None):
        return (None, None)
    origin = trace.engine.query("SELECT coalesce(min(start_ns), 0) AS t0 FROM gpu_ops").column(0)[0].as_py()
    return tuple(None if v is None else origin + round(v * 1e6) for v in window_ms)  # type: ignore[return-value]


def parse_window(text: str | None) -> tuple[float | None, float | None] | None:
    """`START:END` in ms, either side optional (`100:250`, `:500`, `800:`)."""
    if not text:
        return None
    start, sep, end = text.partition(":")
    try:
        lo = float(start) if start.strip() else None
        hi = float(end) if end.strip() else None
    except ValueError:
        lo = hi = float("nan")
    if (
        not sep
        or (lo is not None and lo != lo)
        or (hi is not None and hi != hi)
        or (lo is not None and hi is not None and hi < lo)
    ):
        raise QueryError(
            f"--window {text!r}: expected START:END in ms since the first GPU activity, e.g. 100:250, :500 or 800:"
        )
    return (lo, hi)


def export_perfetto(
    trace: "Trace",
    out: str | Path,
    findings: list | None = None,
    window_ms: tuple[float | None, float | None] | None = None,
) -> Path:
    """Write `trace` (and `findings`, ranked) as Chrome-trace JSON that ui.perfetto.dev and chrome://tracing open.

    `window_ms` = (start, end) in ms since the first GPU activity keeps only what overlaps that window (either
    side None = unbounded): a 1M-kernel trace is ~2.5 GB of JSON, more than the Perfetto UI loads comfortably.
    The file appears only when complete (written to a temporary file beside it, then renamed).
    """
    out = Path(out)
    ex = _Exporter(trace, window_ns(trace, window_ms))
    with atomic_write(out) as fh:
        fh.write(
            b'{"displayTimeUnit":"ns","otherData":%b,"traceEvents":[\n'
            % orjson.dumps(
                {
                    "producer": f"inferscope {__version__}",
                    "source": trace.path.name,
                    "source_format": trace.format,
                    "clock": "ns since the profiling session start",
                }
            )
        )
        first = True
        for gen in (
            ex.finding_events(findings or []),
            ex.gpu_events(),
            ex.host_events(),
            ex.sample_events(),
            ex.flow_events(),
            ex.tracks.metadata(),
        ):
            for event in gen:
                if event:
                    fh.write(event if first else b",\n" + event)
                    first = False
        fh.write(b"\n]}\n")
    return out
