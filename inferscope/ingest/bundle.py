"""An `inferscope record` bundle -> the trace model: the nsys report plus the Python samples on its timeline.

Timeline. With nsys, the timeline is the nsys session's (ns since session start, UTC `utcEpochNs` at zero).
Samples carry CLOCK_MONOTONIC; the manifest's clock pairs (start and end of the recording) map it to
CLOCK_REALTIME (linearly, absorbing NTP slew between the pairs), and `realtime - utcEpochNs` puts it on the
session timeline. Each workload process also made one short sleep bracketed by two monotonic readings; nsys traced
that sleep, so its row bounds the mapping error from both sides. When such anchors are found the mapping is
shifted by their median error estimate, and trace_meta says so (`clock_alignment.*`).
Without nsys (`--no-nsys`), the timeline is the recording's own: zero is the start clock pair, and
`session_start_utc_ns` is that pair's CLOCK_REALTIME.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable

import pyarrow as pa
import pyarrow.compute as pc

from .. import model
from ..errors import TraceInputError
from ..redact import redact_argv, redact_text, redact_value

_PASS_THROUGH = ("kernels", "api_calls", "memcpy", "memset", "sync_events", "memory_events", "profiler_overhead")
SLEEP_CALLS = ("clock_nanosleep", "nanosleep", "select", "pselect", "poll", "usleep")
OWN_THREAD_PREFIX = "inferscope-"


def load(path: Path, step: Callable[[str], None]) -> dict[str, pa.Table]:
    from recorders.clocks import mono_to_realtime
    from recorders.record import BUNDLE_FORMAT

    manifest = _manifest(path, BUNDLE_FORMAT)
    pairs = [p for p in (manifest.get("clock_pairs", {}).get(k) for k in ("start", "end")) if p]
    if not pairs:
        raise TraceInputError(f"{path}: manifest.json has no clock pairs; the bundle is damaged")
    report, exported = _report_file(path, manifest)
    warnings = []
    if report.exists():
        from .formats import detect
        from .nsys_files import iter_nsys

        tables = dict(iter_nsys(report, detect(report), step))
        # the tables merged with samples and annotations below get plain strings; the large GPU tables pass
        # through to the cache as they come (names dictionary-encoded)
        tables = {k: t if k in _PASS_THROUGH else model.plain(t) for k, t in tables.items()}
        meta = _pairs_of(tables["trace_meta"])
        utc = int(meta["session_start_utc_ns"]) if meta.get("session_start_utc_ns") else pairs[0]["realtime_ns"]
        if exported:
            source = (
                f"inferscope-bundle + nsys-rep (exported as sqlite by the recording nsys "
                f"{(manifest.get('nsys') or {}).get('version') or ''})"
            ).replace(" )", ")")
        else:
            source = f"inferscope-bundle + {meta.get('source_format', 'nsys-rep')}"
    else:
        if manifest.get("nsys") and manifest.get("status") != "incomplete":  # else the reason says it
            warnings.append("the recording used nsys but the bundle holds no report; only Python samples are shown")
        tables = {t.name: model.empty_table(t.name) for t in model.TABLES}
        meta = {"model_version": model.MODEL_VERSION}
        utc = pairs[0]["realtime_ns"]
        source = "inferscope-bundle (Python samples only)"

    step("reading Python samples")
    samples = _read_samples(path)
    names = _thread_names(path, samples)
    regs = _registrations(path)
    to_real = mono_to_realtime(pairs)
    alignment = _align(tables["osrt_calls"], regs, to_real, utc, pairs, bool(report.exists()))
    shift = alignment.pop("_shift_ns")

    def to_session(mono: int) -> int:
        return to_real(mono) - utc + shift

    ends = [m for m in (pairs[0]["monotonic_ns"], pairs[-1]["monotonic_ns"])]
    alignment["monotonic_offsets_ns"] = json.dumps([[m, to_session(m) - m] for m in ends])
    own = {(p, t) for (p, t), n in names.items() if n.startswith(OWN_THREAD_PREFIX)}
    tables["cpu_samples"], tables["stack_frames"] = _sample_tables(samples, to_session, tables, own)
    tables["osrt_calls"] = _drop_threads(tables["osrt_calls"], own)
    from .annotation_files import merge as merge_annotations

    tables = merge_annotations(tables, path / "annotations", to_session=to_session)
    tables["threads"] = _threads(tables["threads"], names, own)
    tables["processes"] = _processes(tables["processes"], regs)
    meta.update(_bundle_facts(manifest, source, alignment, warnings, samples))
    if not report.exists():
        meta["session_start_utc_ns"] = str(utc)
    for k, v in (manifest.get("environment") or {}).items():
        meta.setdefault(f"env.{k}", redact_value(k, str(v)))
    tables["trace_meta"] = pa.table(
        {"key": list(meta), "value": [str(v) for v in meta.values()]}, schema=model.TABLE_BY_NAME["trace_meta"].schema
    )
    return tables


def _report_file(path: Path, manifest: dict) -> tuple[Path, bool]:
    """The file holding the bundle's nsys data, and whether it is the recorder's SQLite export.

    The export comes first: reading it needs no nsys at all, while the .nsys-rep needs an nsys at least as new as
    the recording one (nsys refuses newer reports). Older bundles have only the report; an export a user made
    by hand and named in manifest nsys.report works as well.
    """
    nsys = manifest.get("nsys") or {}
    exported = (nsys.get("export") or {}).get("file")
    if exported and (path / exported).is_file():
        return path / exported, True
    return path / (nsys.get("report") or "profile.nsys-rep"), False


def mono_to_session(meta: dict[str, str]) -> Callable[[int], int]:
    """CLOCK_MONOTONIC ns (of the recording machine) -> ns on the trace timeline, from a bundle's trace_meta.

    Lets users place their own monotonic timestamps (logs, request traces) on the same timeline as the trace.
    """
    raw = meta.get("clock_alignment.monotonic_offsets_ns")
    if not raw:
        raise TraceInputError("this trace is not an InferScope bundle with clock alignment facts")
    (m0, o0), (m1, o1) = json.loads(raw)
    if m1 == m0:
        return lambda m: m + o0
    return lambda m: m + o0 + (o1 - o0) * (m - m0) // (m1 - m0)


def _manifest(path: Path, expected_format: str) -> dict:
    try:
        manifest = json.loads((path / "manifest.json").read_text())
    except (OSError, ValueError) as exc:
        raise TraceInputError(
            f"{path}/manifest.json: unreadable ({exc}); is this an `inferscope record` bundle?"
        ) from exc
    if not isinstance(manifest, dict) or manifest.get("format") != expected_format:
        raise TraceInputError(f"{path}: manifest.json is not an InferScope bundle manifest")
    return manifest


def _pairs_of(meta: pa.Table) -> dict[str, str]:
    return dict(zip(meta.column("key").to_pylist(), meta.column("value").to_pylist()))


class _Samples:
    """All sample files merged: frames and stacks interned across files."""

    def __init__(self):
        self.frames: dict[tuple, int] = {}
        self.stacks: dict[tuple[int, ...], int] = {}
        self.rows: list[tuple] = []  # (mono, pid, tid, stack, state, gil)
        self.names: dict[tuple[int, int], str] = {}
        self.inproc_names: dict[tuple[int, int], str] = {}
        self.ends: list[dict] = []
        self.files = 0


def _read_samples(path: Path) -> _Samples:
    from recorders.samplefile import read_records

    s = _Samples()
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


def _thread_names(path: Path, samples: _Samples) -> dict[tuple[int, int], str]:
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


def _registrations(path: Path) -> list[dict]:
    regs = []
    for f in sorted((path / "procs").glob("*.json")):
        try:
            regs.append(json.loads(f.read_text()))
        except (OSError, ValueError):
            continue
    return regs


def _align(osrt: pa.Table, regs: list[dict], to_real, utc: int, pairs: list[dict], with_nsys: bool) -> dict:
    """How samples are placed on the timeline, with an error estimate; `_shift_ns` is the correction to apply."""
    drift = 0
    if len(pairs) == 2:
        drift = abs(
            (pairs[1]["realtime_ns"] - pairs[1]["monotonic_ns"]) - (pairs[0]["realtime_ns"] - pairs[0]["monotonic_ns"])
        )
    pair_err = max(p.get("uncertainty_ns", 0) for p in pairs)
    if not with_nsys:
        return {
            "method": "recording clock: CLOCK_MONOTONIC via the start/end clock pairs (no nsys timeline)",
            "error_ns": pair_err + drift,
            "drift_ns": drift,
            "_shift_ns": 0,
        }
    bounds = []
    for reg in regs:
        anchor = reg.get("anchor")
        if isinstance(anchor, dict):
            bounds += _anchor_bounds(osrt, reg["pid"], anchor, to_real, utc)
    base = {"drift_ns": drift, "pair_uncertainty_ns": pair_err}
    prior = pair_err + drift
    if not bounds:
        return {
            **base,
            "method": "utcEpochNs + clock pairs (no OS-runtime anchor found to check it)",
            "error_ns": prior,
            "error_note": "excludes the accuracy of nsys's utcEpochNs (about 10 us measured with nsys 2022.4)",
            "_shift_ns": 0,
        }
    lo, hi = max(b[0] for b in bounds), min(b[1] for b in bounds)
    base["anchor_interval_ns"] = json.dumps([lo, hi])
    if lo > hi:  # anchors disagree with each other: keep the uncorrected mapping and say so
        return {
            **base,
            "method": f"utcEpochNs + clock pairs ({len(bounds)} OS-runtime anchors disagree; not used)",
            "error_ns": prior,
            "_shift_ns": 0,
        }
    # the mapping error e lies in [lo, hi]; correct only as far as needed to bring 0 into that interval
    e = lo if lo > 0 else hi if hi < 0 else 0
    verb = "checked" if e == 0 else "corrected"
    return {
        **base,
        "method": f"utcEpochNs + clock pairs, {verb} by {len(bounds)} OS-runtime sleep anchor(s)",
        "error_ns": max(hi - e, e - lo) + drift,
        "uncorrected_error_bound_ns": max(abs(lo), abs(hi)),
        "correction_ns": -e,
        "_shift_ns": -e,
    }


def _anchor_bounds(osrt: pa.Table, pid: int, anchor: dict, to_real, utc: int) -> list[tuple[int, int]]:
    """Bounds on the mapping error from the agent's bracketed sleeps: each traced sleep ran between its two
    monotonic readings, so mapped(before) - start <= error <= mapped(after) - end."""
    brackets = anchor.get("brackets") or []
    if not brackets:
        return []
    first, last = to_real(brackets[0][0]) - utc, to_real(brackets[-1][1]) - utc
    slack = 5_000_000
    mask = pc.and_(
        pc.and_(pc.equal(osrt["pid"], pid), pc.equal(osrt["tid"], anchor.get("tid"))),
        pc.is_in(osrt["name"], value_set=pa.array(SLEEP_CALLS)),
    )
    rows = sorted(
        (r["start_ns"], r["end_ns"])
        for r in osrt.filter(mask).select(["start_ns", "end_ns"]).to_pylist()
        if first - slack <= r["start_ns"] <= last + slack
    )
    if len(rows) != len(brackets):
        return []
    out = []
    for (m0, m1), (start, end) in zip(brackets, rows):
        e_lo, e_hi = to_real(m0) - utc - start, to_real(m1) - utc - end
        if e_lo <= e_hi:
            out.append((e_lo, e_hi))
    return out


def _sample_tables(s: _Samples, to_session, tables: dict[str, pa.Table], own: set) -> tuple[pa.Table, pa.Table]:
    nsys_samples, nsys_frames = tables["cpu_samples"], tables["stack_frames"]
    if own and nsys_samples.num_rows:
        nsys_samples = _drop_threads(nsys_samples, own)
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


def _drop_threads(table: pa.Table, own: set) -> pa.Table:
    """Rows of the recorder's own threads inside the workload (in-process sampler, layout check) are not the
    workload's activity."""
    if not own or table.num_rows == 0:
        return table
    keys = pc.add(pc.multiply(pc.cast(table["pid"], pa.int64()), 1 << 24), pc.cast(table["tid"], pa.int64()))
    drop = pa.array([p * (1 << 24) + t for p, t in own], pa.int64())
    return table.filter(pc.invert(pc.fill_null(pc.is_in(keys, value_set=drop), False)))


def _threads(threads: pa.Table, names: dict, own: set) -> pa.Table:
    rows = {(r["pid"], r["tid"]): r for r in model.conform("threads", threads).to_pylist()}
    for (pid, tid), name in names.items():
        if (pid, tid) in own:
            continue
        row = rows.setdefault((pid, tid), {"pid": pid, "tid": tid, "name": None, "priority": None})
        row["name"] = name
    return pa.Table.from_pylist(list(rows.values()), schema=model.TABLE_BY_NAME["threads"].schema)


def _processes(processes: pa.Table, regs: list[dict]) -> pa.Table:
    rows = {r["pid"]: r for r in model.conform("processes", processes).to_pylist()}
    for reg in regs:
        argv = reg.get("argv") or []
        name = os.path.basename(reg.get("executable") or "python")
        if argv and argv[0]:
            name += " " + redact_text(os.path.basename(argv[0]))
        rows.setdefault(reg["pid"], {"pid": reg["pid"], "name": name})
    return pa.Table.from_pylist(list(rows.values()), schema=model.TABLE_BY_NAME["processes"].schema)


def _redacted_process(proc) -> object:
    """A manifest sampler.processes entry with its argv redacted (the manifest may predate redaction)."""
    if isinstance(proc, dict) and isinstance(proc.get("argv"), list):
        return {**proc, "argv": redact_argv(proc["argv"])}
    return proc


def _bundle_facts(manifest: dict, source: str, alignment: dict, warnings: list[str], s: _Samples) -> dict:
    sampler = manifest.get("sampler") or {}
    remote = sampler.get("remote") or {}
    lag = [e for e in s.ends if e.get("lag_ns_p50") is not None]
    facts = {
        "source_format": source,
        "bundle.format_version": manifest.get("format_version"),
        "bundle.status": manifest.get("status"),
        "bundle.recorded_with": manifest.get("inferscope_version"),
        # redacted again at reading: bundles of earlier versions or recorded with --keep-secrets hold raw values
        "command": " ".join(redact_argv(manifest.get("command") or [])),
        "cwd": redact_text(manifest.get("cwd") or "") or None,
        "hostname": manifest.get("hostname"),
        "gpus": json.dumps(manifest.get("gpus") or []),
        "workload.exit_code": (manifest.get("workload") or {}).get("exit_code"),
        "workload.stopped_by": (manifest.get("workload") or {}).get("stopped_by"),
        "sampler.mode": sampler.get("mode"),
        "sampler.rate_hz": sampler.get("rate_hz"),
        "sampler.samples": len(s.rows),
        "sampler.processes": json.dumps([_redacted_process(p) for p in sampler.get("processes") or []]),
        "sampler.lag_ns_p50": max((e["lag_ns_p50"] for e in lag), default=remote.get("lag_ns_p50")),
        "sampler.lag_ns_p99": max((e["lag_ns_p99"] for e in lag), default=remote.get("lag_ns_p99")),
        "sampler.lag_ns_max": max((e["lag_ns_max"] for e in lag), default=remote.get("lag_ns_max")),
    }
    if manifest.get("nsys"):
        facts["nsys.recorded_version"] = manifest["nsys"].get("version")
        facts["nsys.command"] = " ".join(redact_argv(manifest["nsys"].get("command") or []))
    for k, v in alignment.items():
        facts[f"clock_alignment.{k}"] = v
    for i, w in enumerate(warnings):
        facts[f"bundle.warning.{i}"] = w
    if manifest.get("status") == "incomplete":
        why = manifest.get("incomplete_reason") or "no reason given"
        facts["bundle.warning.incomplete"] = f"the recording is incomplete: {why}"
    elif manifest.get("status") != "complete":
        facts["bundle.warning.incomplete"] = (
            f"the recorder did not finish (status {manifest.get('status')!r}); data may end early"
        )
    export = (manifest.get("nsys") or {}).get("export") or {}
    if export.get("error"):
        facts["bundle.export_error"] = export["error"]
    return {k: v for k, v in facts.items() if v is not None}
