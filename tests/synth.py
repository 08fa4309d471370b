"""Small traces built for tests on the real nsys SQLite schema: a copy of a real shared export, edited with sqlite3.

Used where no shared export shows a pattern (a synchronous pinned memset, a 600 ms GPU gap, NCCL kernels, step
markers, uneven GPUs). Every edit keeps the nsys schema intact (tables and columns as exported), so both InferScope
and the real `nsys analyze` can read the result. Each builder says what it changes.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from tests.conftest import NSYS_TRACES

CLOVERLEAF = NSYS_TRACES / "a100x4_cloverleaf_nsys2024.5.sqlite"
H100 = NSYS_TRACES / "h100_2gpu_fastvideo.sqlite"


def copy_export(src: Path, dst_dir: Path, name: str) -> tuple[Path, sqlite3.Connection]:
    dst = dst_dir / f"{name}.sqlite"
    shutil.copy(src, dst)
    dst.chmod(0o644)
    return dst, sqlite3.connect(dst)


def string_id(con: sqlite3.Connection, text: str) -> int:
    row = con.execute("SELECT id FROM StringIds WHERE value = ?", (text,)).fetchone()
    if row:
        return row[0]
    new = con.execute("SELECT coalesce(max(id), 0) + 1 FROM StringIds").fetchone()[0]
    con.execute("INSERT INTO StringIds (id, value) VALUES (?, ?)", (new, text))
    return new


def timed_tables(con: sqlite3.Connection) -> list[str]:
    out = []
    for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
        cols = {r[1] for r in con.execute(f"PRAGMA table_info('{name}')")}
        if {"start", "end"} <= cols:
            out.append(name)
    return out


def shift_after(con: sqlite3.Connection, t_ns: int, by_ns: int) -> None:
    """Move every event that starts at or after t_ns later by by_ns: opens a hole in all activity at t_ns."""
    for table in timed_tables(con):
        con.execute(f'UPDATE "{table}" SET start = start + ?, "end" = "end" + ? WHERE start >= ?', (by_ns, by_ns, t_ns))


def ensure_nvtx(con: sqlite3.Connection) -> None:
    """Create NVTX_EVENTS with the exact DDL of a real export (h100 export, nsys 2026.2) when the copy has none."""
    if con.execute("SELECT 1 FROM sqlite_master WHERE name = 'NVTX_EVENTS'").fetchone():
        return
    ddl = (
        sqlite3.connect(f"file:{H100}?mode=ro", uri=True)
        .execute("SELECT sql FROM sqlite_master WHERE name = 'NVTX_EVENTS'")
        .fetchone()[0]
    )
    con.execute(ddl)


def add_range(con: sqlite3.Connection, name: str, start: int, end: int, global_tid: int) -> None:
    """One NVTX push/pop range (eventType 59) with inline text."""
    con.execute(
        'INSERT INTO NVTX_EVENTS (start, "end", eventType, text, globalTid) VALUES (?, ?, 59, ?, ?)',
        (start, end, name, global_tid),
    )


def main_thread(con: sqlite3.Connection) -> int:
    return con.execute(
        "SELECT globalTid FROM CUPTI_ACTIVITY_KIND_RUNTIME GROUP BY globalTid ORDER BY count(*) DESC LIMIT 1"
    ).fetchone()[0]


def launch_starts(con: sqlite3.Connection) -> list[int]:
    return [
        r[0]
        for r in con.execute(
            "SELECT r.start FROM CUPTI_ACTIVITY_KIND_RUNTIME r JOIN StringIds s ON s.id = r.nameId "
            "WHERE s.value LIKE 'cudaLaunchKernel%' ORDER BY r.start"
        )
    ]


# --- builders ---------------------------------------------------------------------------------------------------


def memset_sync(dst_dir: Path) -> Path:
    """h100 export; one cudaMemsetAsync of device memory becomes a synchronous cudaMemset of pinned memory
    (MEMSET.memKind = 1, its runtime row renamed cudaMemset_v3020)."""
    path, con = copy_export(H100, dst_dir, "synth_memset_sync")
    start, corr, gpid = con.execute(
        "SELECT start, correlationId, globalPid FROM CUPTI_ACTIVITY_KIND_MEMSET ORDER BY start LIMIT 1"
    ).fetchone()
    con.execute(
        "UPDATE CUPTI_ACTIVITY_KIND_MEMSET SET memKind = 1 WHERE start = ? AND correlationId = ?", (start, corr)
    )
    con.execute(
        "UPDATE CUPTI_ACTIVITY_KIND_RUNTIME SET nameId = ? WHERE correlationId = ? AND (globalTid >> 24) = (? >> 24)",
        (string_id(con, "cudaMemset_v3020"), corr, gpid),
    )
    con.commit()
    return path


def long_gap(dst_dir: Path, gap_ns: int = 600_000_000) -> Path:
    """cloverleaf export with all activity after the middle launch call moved gap_ns later: one long GPU gap."""
    path, con = copy_export(CLOVERLEAF, dst_dir, "synth_long_gap")
    starts = launch_starts(con)
    shift_after(con, starts[len(starts) // 2] - 1, gap_ns)
    con.commit()
    return path


def stepped(dst_dir: Path, name: str, steps: int = 8, hole_ns: int = 0, names=None) -> tuple[Path, list[tuple]]:
    """cloverleaf export with `steps` NVTX ranges on the main thread, each starting just before a launch call
    (evenly spaced through the run) and ending where the next begins. With hole_ns > 0 every step opens with a
    hole of that length in all activity (the host doing something untraced before launching): a host-bound
    step. Returns the path and the (name, start, end) of the inserted ranges."""
    path, con = copy_export(CLOVERLEAF, dst_dir, name)
    ensure_nvtx(con)
    tid = main_thread(con)
    n = len(launch_starts(con))
    picks = [int(i * n / steps) for i in range(steps)]
    begins = []
    for idx in picks:
        t = launch_starts(con)[idx] - 1
        if hole_ns:
            shift_after(con, t, hole_ns)
        begins.append(t)
    end = con.execute('SELECT max("end") FROM CUPTI_ACTIVITY_KIND_RUNTIME WHERE globalTid = ?', (tid,)).fetchone()[0]
    bounds = begins + [end]
    labels = names or [f"ProfilerStep#{i}" for i in range(steps)]
    ranges = []
    for i in range(steps):
        add_range(con, labels[i], bounds[i], bounds[i + 1], tid)
        ranges.append((labels[i], bounds[i], bounds[i + 1]))
    con.commit()
    return path, ranges


def nccl(dst_dir: Path, overlapped: bool) -> Path:
    """cloverleaf export whose par_reduce_kernel executions are renamed to an NCCL all-reduce kernel. With
    overlapped=True each of them also gets a compute kernel on another stream covering the same interval (a copy of
    its row with a new name, stream and correlation id), so the communication is fully hidden."""
    path, con = copy_export(CLOVERLEAF, dst_dir, "synth_nccl_overlapped" if overlapped else "synth_nccl_exposed")
    nccl_id = string_id(con, "ncclDevKernel_AllReduce_Sum_f32_RING_LL(ncclDevComm *, unsigned long, ncclWork *)")
    short = string_id(con, "ncclDevKernel_AllReduce_Sum_f32_RING_LL")
    reduce_ids = [r[0] for r in con.execute("SELECT id FROM StringIds WHERE value LIKE '%par_reduce_kernel%'")]
    marks = ",".join("?" * len(reduce_ids))
    if overlapped:
        cols = [r[1] for r in con.execute("PRAGMA table_info('CUPTI_ACTIVITY_KIND_KERNEL')")]
        other = string_id(con, "overlapping_compute_kernel")
        picks = ", ".join(
            {
                "streamId": "streamId + 1000",
                "correlationId": "correlationId + 100000000",
                "demangledName": str(other),
                "shortName": str(other),
            }.get(c, f'"{c}"')
            for c in cols
        )
        collist = ", ".join(f'"{c}"' for c in cols)
        con.execute(
            f"INSERT INTO CUPTI_ACTIVITY_KIND_KERNEL ({collist}) SELECT {picks} FROM CUPTI_ACTIVITY_KIND_KERNEL "
            f"WHERE shortName IN ({marks})",
            reduce_ids,
        )
    con.execute(
        f"UPDATE CUPTI_ACTIVITY_KIND_KERNEL SET demangledName = ?, shortName = ? WHERE shortName IN ({marks})",
        [nccl_id, short, *reduce_ids],
    )
    con.commit()
    return path


def uneven_gpus(dst_dir: Path) -> Path:
    """h100 export with device 1's copies and kernels in the second half of the run deleted: GPU 1 does half the
    work of GPU 0."""
    path, con = copy_export(H100, dst_dir, "synth_uneven_gpus")
    lo, hi = con.execute('SELECT min(start), max("end") FROM CUPTI_ACTIVITY_KIND_KERNEL').fetchone()
    mid = (lo + hi) // 2
    for table in ("CUPTI_ACTIVITY_KIND_KERNEL", "CUPTI_ACTIVITY_KIND_MEMCPY", "CUPTI_ACTIVITY_KIND_MEMSET"):
        con.execute(f"DELETE FROM {table} WHERE deviceId = 1 AND start > ?", (mid,))
    con.commit()
    return path


# --- bundles with Python samples (issue 5: `inferscope record`) ------------------------------------------------
# No GPU here, so no recording with GPU work can be made: these wrap an edited export in a bundle whose Python
# samples are SYNTHETIC (100 Hz, written with the recorder's own sample-file writer), planted where the GPU waited.

SAMPLE_PERIOD_NS = 10_000_000
MONO_BASE_NS = 1_000_000_000_000
PY_ENCODE = [
    ("Tokenizer.encode", "/app/tokenize.py", 88),
    ("handle", "/app/server.py", 20),
    ("<module>", "/app/server.py", 50),
]
PY_FORWARD = [
    ("Model.forward", "/app/model.py", 140),
    ("handle", "/app/server.py", 24),
    ("<module>", "/app/server.py", 50),
]
PY_DECODE = [("Detokenizer.decode", "/app/detok.py", 12), ("step", "/app/loop.py", 31), ("<module>", "/app/loop.py", 5)]
HOLE_NS = 60_000_000


def sample_times(start: int, end: int) -> range:
    """Sample instants of a 100 Hz sampler inside [start, end)."""
    return range(start + SAMPLE_PERIOD_NS // 2, end, SAMPLE_PERIOD_NS)


def python_bundle(export: Path, out: Path, samples: list[tuple[int, int, int, list]], names: dict) -> Path:
    """A recorder bundle around `export`: clock pairs that put CLOCK_MONOTONIC = MONO_BASE_NS + session ns, and
    `samples` given as (session ns, pid, tid, leaf-first stack of (function, file, line))."""
    import json

    from recorders.record import BUNDLE_FORMAT
    from recorders.samplefile import Writer

    utc = (
        sqlite3.connect(f"file:{export}?mode=ro", uri=True)
        .execute("SELECT utcEpochNs FROM TARGET_INFO_SESSION_START_TIME")
        .fetchone()[0]
    )
    for sub in ("samples", "procs"):
        (out / sub).mkdir(parents=True)
    shutil.copy(export, out / "profile.sqlite")
    span = max(ts for ts, *_ in samples) + 1

    def pair(t):
        return {
            "realtime_ns": utc + t,
            "monotonic_ns": MONO_BASE_NS + t,
            "monotonic_raw_ns": MONO_BASE_NS + t,
            "uncertainty_ns": 0,
        }

    manifest = {
        "format": BUNDLE_FORMAT,
        "format_version": 1,
        "status": "complete",
        "command": ["python", "app.py"],
        "clock_pairs": {"start": pair(0), "end": pair(span)},
        "nsys": {"report": "profile.sqlite"},
        "sampler": {"mode": "synthetic", "rate_hz": 100},
        "workload": {"exit_code": 0, "stopped_by": "exit"},
        "environment": {},
    }
    (out / "manifest.json").write_text(json.dumps(manifest))
    w = Writer(out / "samples" / "synthetic.jsonl.gz", {"pid": 0, "sampler": "synthetic"})
    for ts, pid, tid, stack in sorted(samples, key=lambda s: s[0]):
        w.sample(MONO_BASE_NS + ts, utc + ts, pid, tid, w.stack_id(stack), "running", True)
    w.close({"samples": len(samples)})
    (out / "procs" / "0.threads.jsonl").write_text(
        "".join(json.dumps([pid, tid, name]) + "\n" for (pid, tid), name in names.items())
    )
    return out


def python_gap(dst_dir: Path) -> tuple[Path, list[dict]]:
    """long_gap's export in a bundle: on the thread that launched the work ending each >500 ms gap, samples in
    Tokenizer.encode (tokenize.py:88) throughout the gap and in Model.forward before it. Returns the bundle and
    the gaps (gpu_idle_causes rows)."""
    import inferscope

    own = dst_dir / "python_gap"
    own.mkdir(exist_ok=True)
    export = long_gap(own)
    with inferscope.open(export, use_cache=False) as t:
        gaps = t.sql(
            "SELECT device_id, start_ns, end_ns, dur_ns, pid, tid FROM gpu_idle_causes "
            "WHERE dur_ns > 500000000 ORDER BY device_id"
        ).to_dict("records")
        first = int(t.sql("SELECT min(start_ns) FROM gpu_ops").iloc[0, 0])
    samples = []
    for g in gaps:
        samples += [(ts, g["pid"], g["tid"], PY_ENCODE) for ts in sample_times(g["start_ns"], g["end_ns"])]
        samples += [(ts, g["pid"], g["tid"], PY_FORWARD) for ts in sample_times(first, g["start_ns"])]
    names = {(g["pid"], g["tid"]): "MainThread" for g in gaps}
    return python_bundle(export, own / "synth_python_gap", samples, names), gaps


def python_steps(dst_dir: Path) -> tuple[Path, list[dict]]:
    """stepped(hole_ns=60 ms)'s export in a bundle: in every step, samples in Detokenizer.decode (detok.py:12)
    during the host hole at its start and in Model.forward for the rest. Returns the bundle and the steps."""
    import inferscope

    own = dst_dir / "python_steps"
    own.mkdir(exist_ok=True)
    export, _ = stepped(own, "synth_host_bound_steps", hole_ns=HOLE_NS)
    with inferscope.open(export, use_cache=False) as t:
        steps = t.sql(
            "SELECT step_id, pid, tid, start_ns, end_ns, dur_ns, gpu_busy_ns, gpu_busy_pct FROM steps ORDER BY step_id"
        ).to_dict("records")
    samples = []
    for s in steps:
        hole_end = s["start_ns"] + HOLE_NS
        samples += [(ts, s["pid"], s["tid"], PY_DECODE) for ts in sample_times(s["start_ns"], hole_end)]
        samples += [(ts, s["pid"], s["tid"], PY_FORWARD) for ts in sample_times(hole_end, s["end_ns"])]
    names = {(steps[0]["pid"], steps[0]["tid"]): "MainThread"}
    return python_bundle(export, own / "synth_python_steps", samples, names), steps
