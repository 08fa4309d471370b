"""A bundle's Python samples: the sampler files merged, then written as the model's cpu_samples and stack_frames.

Frames and stacks are interned across files and numbered after nsys's own, so one trace holds both kinds of
sample; the recorder's own threads inside the workload (in-process sampler, layout check) are dropped, since
they are not the workload's activity.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from .. import model


class Samples:
    """All sample files merged: frames and stacks interned across files."""

    def __init__(self):
        self.frames: dict[tuple, int] = {}
        self.stacks: dict[tuple[int, ...], int] = {}
        self.rows: list[tuple] = []  # (mono, pid, tid, stack, state, gil)
        self.names: dict[tuple[int, int], str] = {}
        self.inproc_names: dict[tuple[int, int], str] = {}
        self.ends: list[dict] = []
        self.files = 0


def read_samples(path: Path) -> Samples:
    from recorders.samplefile import read_records

    s = Samples()
    for file in sorted((path / "samples").glob("*.jsonl.gz")):
        s.files += 1
        frames: dict[int, int] = {}
        stacks: dict[int, int] = {}
        inproc = file.name.startswith("inproc-")
        for rec in read_records(file):
            kind = rec[0]
            if kind == "S":
                _, mono, _real, pid, tid, sid, state, gil = rec
                s.rows.append((mono, pid, tid, stacks.get(sid), state, None if gil is None else bool(gil)))
            elif kind == "F":
                key = (rec[2], rec[3], rec[4])
                frames[rec[1]] = s.frames.setdefault(key, len(s.frames))
            elif kind == "K":
                key = tuple(frames[f] for f in rec[2])
                stacks[rec[1]] = s.stacks.setdefault(key, len(s.stacks))
            elif kind == "T":
                (s.inproc_names if inproc else s.names)[(rec[1], rec[2])] = rec[3]
            elif kind == "E":
                s.ends.append(rec[1])
    return s


def thread_names(path: Path, samples: Samples) -> dict[tuple[int, int], str]:
    """Python thread names win over OS names: the workload's own log, then in-process samplers, then /proc."""
    names = dict(samples.names)
    names.update(samples.inproc_names)
    for log in sorted((path / "procs").glob("*.threads.jsonl")):
        for line in log.read_text(errors="replace").splitlines():
            try:
                pid, tid, name = json.loads(line)
            except (ValueError, TypeError):
                continue
            names[(int(pid), int(tid))] = str(name)
    return names


def sample_tables(s: Samples, to_session, tables: dict[str, pa.Table], own: set) -> tuple[pa.Table, pa.Table]:
    nsys_samples, nsys_frames = tables["cpu_samples"], tables["stack_frames"]
    if own and nsys_samples.num_rows:
        nsys_samples = drop_threads(nsys_samples, own)
    id_base = (pc.max(nsys_samples["sample_id"]).as_py() or 0) + 1 if nsys_samples.num_rows else 0
    stack_base = max(
        (pc.max(nsys_frames["stack_id"]).as_py() or 0) + 1 if nsys_frames.num_rows else 0,
        (pc.max(nsys_samples["stack_id"]).as_py() or 0) + 1 if nsys_samples.num_rows else 0,
    )
    rows = sorted((r for r in s.rows if r[3] is not None and (r[1], r[2]) not in own), key=lambda r: r[:3])
    py = pa.table(
        {
            "sample_id": pa.array(range(id_base, id_base + len(rows)), pa.int64()),
            "ts_ns": pa.array([to_session(r[0]) for r in rows], pa.int64()),
            "pid": pa.array([r[1] for r in rows], pa.int64()),
            "tid": pa.array([r[2] for r in rows], pa.int64()),
            "state": pa.array([r[4] for r in rows], pa.string()),
            "holds_gil": pa.array([r[5] for r in rows], pa.bool_()),
            "stack_id": pa.array([stack_base + r[3] for r in rows], pa.int64()),
            "source": pa.array(["python"] * len(rows), pa.string()),
        }
    )
    frame_keys = {v: k for k, v in s.frames.items()}
    sid, depth, fn, file, line = [], [], [], [], []
    for stack, gid in s.stacks.items():
        for d, f in enumerate(stack):
            key = frame_keys[f]
            sid.append(stack_base + gid)
            depth.append(d)
            fn.append(key[0])
            file.append(key[1])
            line.append(key[2])
    frames = pa.table(
        {
            "stack_id": pa.array(sid, pa.int64()),
            "depth": pa.array(depth, pa.int64()),
            "function": pa.array(fn, pa.string()),
            "file": pa.array(file, pa.string()),
            "line": pa.array(line, pa.int64()),
        }
    )
    return (
        pa.concat_tables([model.conform("cpu_samples", nsys_samples), model.conform("cpu_samples", py)]),
        pa.concat_tables([model.conform("stack_frames", nsys_frames), model.conform("stack_frames", frames)]),
    )


def drop_threads(table: pa.Table, own: set) -> pa.Table:
    """Rows of the recorder's own threads inside the workload (in-process sampler, layout check) are not the
    workload's activity."""
    if not own or table.num_rows == 0:
        return table
    keys = pc.add(pc.multiply(pc.cast(table["pid"], pa.int64()), 1 << 24), pc.cast(table["tid"], pa.int64()))
    drop = pa.array([p * (1 << 24) + t for p, t in own], pa.int64())
    return table.filter(pc.invert(pc.fill_null(pc.is_in(keys, value_set=drop), False)))
