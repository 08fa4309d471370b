"""An `inferscope record` bundle -> the trace model: the nsys report plus the Python samples on its timeline.

Timeline. With nsys, the timeline is the nsys session's (ns since session start, UTC `utcEpochNs` at zero).
Samples carry CLOCK_MONOTONIC; the manifest's clock pairs (start and end of the recording) map it to
CLOCK_REALTIME (linearly, absorbing NTP slew between the pairs), and `realtime - utcEpochNs` puts it on the
session timeline. Each workload process also made one short sleep bracketed by two monotonic readings; nsys traced
that sleep, so its row bounds the mapping error from both sides. When such anchors are found the mapping is
shifted by their median error estimate, and trace_meta says so (`clock_alignment.*`).
Without nsys (`--no-nsys`), the timeline is the recording's own: zero is the start clock pair, and
`session_start_utc_ns` is that pair's CLOCK_REALTIME.

This module assembles the tables and the bundle's facts; `bundle_clock` estimates the alignment and
`bundle_samples` turns the sampler files into the model's sample tables.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable

import pyarrow as pa

from .. import model
from ..errors import TraceInputError
from ..redact import redact_argv, redact_text, redact_value
from .bundle_clock import align
from .bundle_samples import Samples, drop_threads, read_samples, sample_tables, thread_names

_PASS_THROUGH = ("kernels", "api_calls", "memcpy", "memset", "sync_events", "memory_events", "profiler_overhead")
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
        from .nsys_files import iter_nsys, whole

        tables = {k: whole(t) for k, t in iter_nsys(report, detect(report), step)}
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

    why = _requests_warning(path, manifest)
    if why:
        warnings.append(why)
    step("reading Python samples")
    samples = read_samples(path)
    names = thread_names(path, samples)
    regs = _registrations(path)
    to_real = mono_to_realtime(pairs)
    alignment = align(tables["osrt_calls"], regs, to_real, utc, pairs, bool(report.exists()))
    shift = alignment.pop("_shift_ns")

    def to_session(mono: int) -> int:
        return to_real(mono) - utc + shift

    ends = [m for m in (pairs[0]["monotonic_ns"], pairs[-1]["monotonic_ns"])]
    alignment["monotonic_offsets_ns"] = json.dumps([[m, to_session(m) - m] for m in ends])
    own = {(p, t) for (p, t), n in names.items() if n.startswith(OWN_THREAD_PREFIX)}
    tables["cpu_samples"], tables["stack_frames"] = sample_tables(samples, to_session, tables, own)
    tables["osrt_calls"] = drop_threads(tables["osrt_calls"], own)
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


def requests_file(path: Path) -> Path | None:
    """The load generator's request file the bundle carries (manifest `requests.file`, copied there by `inferscope
    record --requests`), or None when it carries none or the copy is gone. Read from the manifest each time, not
    from the cache, so that a bundle analysed before still finds its file."""
    try:
        manifest = json.loads((Path(path) / "manifest.json").read_text())
    except (OSError, ValueError):
        return None
    name = (manifest.get("requests") or {}).get("file") if isinstance(manifest, dict) else None
    if not isinstance(name, str) or not name:
        return None
    file = (Path(path) / name).resolve()
    if not file.is_relative_to(Path(path).resolve()) or not file.is_file():
        return None  # a manifest pointing outside its bundle is not followed
    return file


def _requests_warning(path: Path, manifest: dict) -> str | None:
    """Why a bundle recorded with --requests has no request file to attach, in words a user can act on."""
    asked = manifest.get("requests")
    if not isinstance(asked, dict):
        return None
    if not asked.get("file"):
        return f"recorded with --requests {redact_text(str(asked.get('given')))} but {asked.get('why') or 'no file was copied'}"
    if requests_file(path) is None:
        return f"the manifest names the request file {asked['file']} but the bundle no longer holds it"
    return None


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


def _registrations(path: Path) -> list[dict]:
    regs = []
    for f in sorted((path / "procs").glob("*.json")):
        try:
            regs.append(json.loads(f.read_text()))
        except (OSError, ValueError):
            continue
    return regs


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


def _bundle_facts(manifest: dict, source: str, alignment: dict, warnings: list[str], s: Samples) -> dict:
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
