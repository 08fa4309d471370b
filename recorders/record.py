"""`inferscope record`: run a workload under nsys and the Python sampler and leave a self-describing bundle.

Bundle layout (DIR/):
    manifest.json            what was run, where, when (clock pairs), on which GPUs, with which tools, and how
                             sampling went; written at start (status "recording") and rewritten at the end
    profile.nsys-rep         the Nsight Systems report (absent with --no-nsys)
    samples/*.jsonl.gz       Python stack samples (recorders/samplefile.py): remote.jsonl.gz from the
                             out-of-process sampler, inproc-<pid>-*.jsonl.gz from in-process samplers
    procs/<pid>-*.json       one registration per Python process of the workload (sampling mode, clock anchor)
    procs/<pid>.threads.jsonl  thread names as the workload assigned them
    annotations/             inferscope.scope()/mark_event() events of the workload (docs/annotations.md)
    requests/<name>          the load generator's request file (--requests PATH), copied when the workload ended;
                             manifest `requests` says where it came from, or why it is missing

    profile.sqlite           `nsys export --type sqlite` of the report, made right after recording by the nsys that
                             recorded it, so that the bundle can be analysed where nsys is older (it refuses newer
                             reports) or absent; manifest nsys.export says whether it worked

Signals and exit: see recorders/supervise.py. The recorder exits with the workload's exit code (128+N when it died
of signal N; 0 when --duration stopped it), except that a recording with nsys that ends without a report exits
with TRACE_LOST (3), whatever the workload did: the manifest then says "status": "incomplete" and why, because a
bundle of Python samples alone is not what was asked for, and a script must not mistake it for a complete one.
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import agent, clocks, gpu_metrics, memread
from . import nsys as nsys_mod
from .export import export_sqlite, nsys_rep_secrets
from .redact import redact_argv, redact_env
from .supervise import Supervisor

BUNDLE_FORMAT = "inferscope-bundle"
BUNDLE_VERSION = 1
REPORT_NAME = "profile"
EXPORT_NAME = "profile.sqlite"
TRACE_LOST = 3  # exit code: nsys was asked for and left no report (1 is compare's "regression", 2 a usage error)
ANNOTATIONS_ENV = "INFERSCOPE_ANNOTATIONS"  # read by inferscope.annotate (docs/annotations.md)
INJECT_DIR = Path(__file__).resolve().parent / "_inject"


class RecordError(Exception):
    """A user mistake or missing tool, reported before anything is written."""


@dataclass
class RecordOptions:
    out: Path | None = None
    sample_rate: float = 100.0
    use_nsys: bool = True
    nsys_args: str = ""
    duration: float | None = None
    sampler: str = "auto"  # auto | remote | inprocess | none
    keep_secrets: bool = False  # --keep-secrets: command lines and environments stored unredacted (docs/secrets.md)
    drop_nsys_rep: bool = False  # --drop-nsys-rep: keep only the scrubbed SQLite export of the nsys report
    gpu_metrics: str | None = None  # --gpu-metrics DEVICES: nsys samples these GPUs' hardware counters
    gpu_metrics_frequency: int | None = None  # --gpu-metrics-frequency HZ (nsys's range; default 10 kHz)
    gpu_metrics_set: str | None = None  # --gpu-metrics-set NAME (nsys's default set for the GPU when None)
    requests: Path | None = None  # --requests PATH: the load generator's request file, copied in at the end
    log: object = field(default=None)


def _say(opts: RecordOptions, msg: str) -> None:
    (opts.log or (lambda m: print(m, file=sys.stderr, flush=True)))(msg)


def _default_out() -> Path:
    return Path(time.strftime("inferscope-record-%Y%m%d-%H%M%S"))


def _gpus() -> list[dict]:
    smi = shutil.which("nvidia-smi")
    if not smi:
        return []
    fields = ["index", "name", "uuid", "pci.bus_id", "memory.total", "driver_version", "compute_cap"]
    try:
        proc = subprocess.run(
            [smi, f"--query-gpu={','.join(fields)}", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=20,
        )
    except (OSError, subprocess.SubprocessError):
        return []
    return [
        dict(zip(fields, (v.strip() for v in line.split(",")))) for line in proc.stdout.splitlines() if line.strip()
    ]


def _write_manifest(out: Path, manifest: dict) -> None:
    tmp = out / ".manifest.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=1, default=str))
    os.replace(tmp, out / "manifest.json")


def _exit_code(returncode: int) -> int:
    return 128 - returncode if returncode < 0 else returncode


def _resolve_workload(cmd: list[str]) -> None:
    if not cmd:
        raise RecordError("no command to record; usage: inferscope record [OPTIONS] -- CMD [ARGS...]")
    exe = cmd[0]
    if os.sep in exe:
        if not (os.path.isfile(exe) and os.access(exe, os.X_OK)):
            raise RecordError(f"{exe}: not an executable file")
    elif shutil.which(exe) is None:
        raise RecordError(f"{exe}: command not found")


def _choose_sampler(opts: RecordOptions) -> tuple[str, str]:
    if opts.sampler == "none" or opts.sample_rate <= 0:
        return "none", "disabled"
    if opts.sampler in ("remote", "auto"):
        ok, why = memread.can_read_children()
        if ok:
            return "remote", "process_vm_readv on child processes works"
        if opts.sampler == "remote":
            raise RecordError(
                f"--sampler remote needs to read the workload's memory, which fails here ({why}); "
                "see README 'record: permissions', or use --sampler inprocess"
            )
        return "inprocess", f"out-of-process sampling unavailable ({why})"
    return "inprocess", "requested"


def _child_env(out: Path, mode: str, rate: float, with_nsys: bool, keep_secrets: bool = False) -> dict:
    """The workload's environment: the agent hook on PYTHONPATH and where to put samples and annotations."""
    env = dict(os.environ)
    if keep_secrets:
        env[agent.ENV_KEEP_SECRETS] = "1"
    env[ANNOTATIONS_ENV] = str(out / "annotations")  # inferscope.scope()/mark_event() write here
    if mode != "none":
        env["PYTHONPATH"] = os.pathsep.join([str(INJECT_DIR)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
        env[agent.ENV_DIR] = str(out)
        env[agent.ENV_MODE] = mode
        env[agent.ENV_RATE] = str(rate)
        if with_nsys:
            env[agent.ENV_ANCHOR] = "1"
    return env


def _start_manifest(cmd: list[str], mode: str, why: str, rate: float, env: dict, keep_secrets: bool = False) -> dict:
    from inferscope.version import __version__

    return {
        "format": BUNDLE_FORMAT,
        "format_version": BUNDLE_VERSION,
        "status": "recording",
        "command": list(cmd) if keep_secrets else redact_argv(cmd),
        "cwd": os.getcwd(),
        "hostname": socket.gethostname(),
        "platform": {"system": platform.system(), "release": platform.release(), "machine": platform.machine()},
        "inferscope_version": __version__,
        "recorder_python": sys.version.split()[0],
        "clock_pairs": {"start": clocks.pair()},
        "gpus": _gpus(),
        "sampler": {"mode": mode, "why": why, "rate_hz": rate},
        "nsys": None,
        "environment": dict(env) if keep_secrets else redact_env(env),
        "secrets": {
            "stored": "unredacted (--keep-secrets)" if keep_secrets else "redacted",
            "rules": "docs/secrets.md",
        },
    }


def record(cmd: list[str], opts: RecordOptions) -> int:
    """Record `cmd`; returns the workload's exit code. Raises RecordError before writing anything."""
    _resolve_workload(cmd)
    if opts.duration is not None and opts.duration <= 0:
        raise RecordError("--duration must be positive")
    user_args = shlex.split(opts.nsys_args or "")
    nsys = caps = None
    if opts.use_nsys:
        nsys = nsys_mod.find_nsys()
        if nsys is None:
            where = os.environ.get("INFERSCOPE_NSYS")
            raise RecordError(
                f"nsys not found{f' at INFERSCOPE_NSYS={where}' if where else ''}; {nsys_mod.INSTALL_HINT}"
            )
        problem = nsys_mod.check_user_args(user_args)
        if problem:
            raise RecordError(problem)
        caps = nsys_mod.Capabilities.probe(nsys)
    elif user_args:
        raise RecordError("--nsys-args given together with --no-nsys")
    metric_args, metric_request = _gpu_metrics_request(opts, caps, user_args)
    requests = Path(opts.requests).absolute() if opts.requests else None  # the workload may change directory
    if requests is not None and requests.is_dir():
        raise RecordError(f"--requests {opts.requests}: a directory; name the request file itself")
    out = Path(opts.out) if opts.out else _default_out()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise RecordError(f"{out}: already exists and is not an empty directory; choose another -o")
    mode, mode_reason = _choose_sampler(opts)

    out.mkdir(parents=True, exist_ok=True)
    (out / "samples").mkdir()
    (out / "procs").mkdir()
    (out / "annotations").mkdir()
    out = out.resolve()
    env = _child_env(out, mode, opts.sample_rate, bool(nsys), opts.keep_secrets)
    manifest = _start_manifest(cmd, mode, mode_reason, opts.sample_rate, env, opts.keep_secrets)
    child_cmd = list(cmd)
    if nsys:
        child_cmd, described = nsys_mod.profile_command(
            nsys, caps, str(out / REPORT_NAME), user_args, cmd, requested=metric_args
        )
        manifest["nsys"] = {
            "path": nsys,
            "version": nsys_mod.version(nsys),
            "command": list(child_cmd) if opts.keep_secrets else redact_argv(child_cmd),
            **described,
            "report": None,
        }
        if metric_request:
            manifest["nsys"]["gpu_metrics"] = metric_request
    _write_manifest(out, manifest)

    remote = None
    if mode == "remote":
        from .remote import RemoteSampler

        remote = RemoteSampler(out, opts.sample_rate, {"pid": os.getpid()})
        remote.start()

    try:
        proc = subprocess.Popen(child_cmd, env=env, start_new_session=True)
    except OSError as exc:  # nothing ran: leave nothing behind
        if remote:
            remote.stop()
        shutil.rmtree(out, ignore_errors=True)
        raise RecordError(f"cannot start {child_cmd[0]}: {exc.strerror or exc}") from exc
    if nsys:
        manifest["nsys"]["pid"] = proc.pid  # names its agents (see recorders/nsys.py:session_agents)
        _write_manifest(out, manifest)
    run = Supervisor(proc, nsys, opts.duration, lambda m: _say(opts, m)).wait()
    if run.stall:
        manifest["nsys"]["stalled"] = run.stall
    returncode, received, stopped_by = run.returncode, run.received, run.stopped_by
    end_pair = clocks.pair()
    signalled_agents = nsys_mod.cleanup(proc.pid) if nsys else []

    sampler_summary = remote.stop() if remote else None
    report = out / f"{REPORT_NAME}.nsys-rep"
    lost = None
    if nsys:
        if report.exists():
            manifest["nsys"]["export"] = export_sqlite(
                nsys, report, out / EXPORT_NAME, opts.keep_secrets, lambda m: _say(opts, m)
            )
            if metric_request:
                metric_request["collected"] = _gpu_metrics_collected(out, manifest["nsys"]["export"], opts)
            manifest["secrets"]["nsys_rep"] = nsys_rep_secrets(
                report, manifest["nsys"]["export"], opts.drop_nsys_rep, lambda m: _say(opts, m)
            )
        else:
            lost = _lost_reason(returncode, run, len(received))
    if requests is not None:
        manifest["requests"] = _carry_requests(out, requests, manifest["clock_pairs"]["start"], opts)
    _finish_manifest(
        out, manifest, end_pair, returncode, received, stopped_by, sampler_summary, signalled_agents, incomplete=lost
    )
    if lost:
        _say(
            opts,
            f"inferscope: error: the nsys trace was lost: {lost}; {out} is marked incomplete and holds only "
            "Python samples. Record again; if nsys keeps failing, read its messages above, check --nsys-args, "
            "try `nsys profile -t osrt -s none true` on its own, or record with --no-nsys",
        )
        return TRACE_LOST
    _say(
        opts,
        f"inferscope: bundle written to {out} ({_count_samples(manifest)}); analyse it with `inferscope analyze {out}`",
    )
    code = _exit_code(returncode)
    if stopped_by == "duration" and code in (0, 128 + signal.SIGINT, 128 + signal.SIGTERM):
        return 0
    return code


def _carry_requests(out: Path, given: Path, start: dict, opts: RecordOptions) -> dict:
    """Copy the load generator's request file into the bundle, so that the bundle alone answers which request
    waited for what. The file is looked for once the workload has ended (load generators write it last); a missing
    one costs a warning, not the recording. A file older than the recording is copied but said to be so: it may be
    a previous run's."""
    entry: dict = {"given": str(given), "file": None}
    try:
        stat = given.stat()
    except OSError as exc:
        entry["why"] = f"it did not exist when the workload ended ({exc.strerror or exc})"
        _say(opts, f"inferscope: warning: --requests {given}: {entry['why']}; the bundle is written without it")
        return entry
    if not given.is_file():
        entry["why"] = "it is not a regular file"
        _say(opts, f"inferscope: warning: --requests {given}: {entry['why']}; the bundle is written without it")
        return entry
    (out / "requests").mkdir(exist_ok=True)
    target = out / "requests" / given.name
    try:
        shutil.copyfile(given, target)
    except OSError as exc:
        entry["why"] = f"it could not be copied ({exc.strerror or exc})"
        _say(opts, f"inferscope: warning: --requests {given}: {entry['why']}; the bundle is written without it")
        return entry
    entry.update(
        file=str(target.relative_to(out)),
        bytes=stat.st_size,
        # 2 s of slack: some file systems keep whole seconds
        modified_during_recording=stat.st_mtime_ns >= start["realtime_ns"] - 2_000_000_000,
    )
    if not entry["modified_during_recording"]:
        _say(opts, f"inferscope: warning: --requests {given}: not written during this recording (a previous run's?)")
    return entry


def _gpu_metrics_request(opts: RecordOptions, caps, user_args: list[str]) -> tuple[list[str], dict | None]:
    """nsys options for --gpu-metrics, checked before anything is written (a refused option would otherwise cost
    a whole recording: nsys stops at an option it does not know)."""
    asked = opts.gpu_metrics is not None
    if not asked:
        if opts.gpu_metrics_frequency is not None or opts.gpu_metrics_set is not None:
            raise RecordError("--gpu-metrics-frequency and --gpu-metrics-set need --gpu-metrics DEVICES (e.g. all)")
        return [], None
    if caps is None:
        raise RecordError("--gpu-metrics needs nsys, which --no-nsys turns off; drop one of them")
    try:
        args, described = gpu_metrics.profile_args(
            caps.options,
            nsys_mod.user_options(user_args),
            opts.gpu_metrics,
            opts.gpu_metrics_frequency,
            opts.gpu_metrics_set,
        )
    except gpu_metrics.GpuMetricsError as exc:
        raise RecordError(str(exc)) from None
    return args, described


def _gpu_metrics_collected(out: Path, export: dict, opts: RecordOptions) -> dict:
    """What nsys actually sampled, read from the export; nsys records a run without counters silently (no GPU, an
    unsupported one, or counters restricted to administrators), so the user hears it now rather than from
    `analyze`."""
    if not export.get("file"):
        return {"samples": None, "why": "no SQLite export to count them in; `nsys export` the .nsys-rep to see"}
    found = gpu_metrics.collected(str(out / export["file"]))
    if not found["samples"]:
        _say(opts, f"inferscope: warning: --gpu-metrics was asked for but nsys recorded no GPU metrics: {found['why']}")
    return found


def _lost_reason(returncode: int, run, signals: int) -> str:
    """Why nsys left no report, in words a user can act on (the manifest keeps the same text)."""
    if run.stall:
        return (
            f"nsys had not finished {run.stall['after_s']:g} s after the workload exited and was stopped "
            f"({', '.join(run.stall['actions'])})"
        )
    if signals >= 3:
        return "the recording was killed by a third signal before nsys wrote its report"
    if returncode < 0:
        return f"nsys was killed by {signal.Signals(-returncode).name} before writing its report"
    return f"nsys exited with code {returncode} without writing a report"


def _count_samples(manifest: dict) -> str:
    procs = manifest["sampler"].get("processes", [])
    nsys = manifest.get("nsys") or {}
    report = "nsys report" if nsys.get("report") or (nsys.get("export") or {}).get("file") else "no nsys report"
    return f"{report}, {len(procs)} Python process(es) sampled"


def _finish_manifest(
    out: Path,
    manifest: dict,
    end_pair: dict,
    returncode: int,
    received: list[str],
    stopped_by: str | None,
    remote_summary: dict | None,
    signalled_agents: list[int],
    incomplete: str | None = None,
) -> None:
    manifest["clock_pairs"]["end"] = end_pair
    manifest["workload"] = {
        "exit_code": _exit_code(returncode),
        "signal": signal.Signals(-returncode).name if returncode < 0 else None,
        "signals_forwarded": received,
        "stopped_by": stopped_by or (f"signal {received[0]}" if received else "exit"),
    }
    manifest["duration_s"] = (end_pair["monotonic_ns"] - manifest["clock_pairs"]["start"]["monotonic_ns"]) / 1e9
    report = out / f"{REPORT_NAME}.nsys-rep"
    if manifest["nsys"] is not None:
        manifest["nsys"]["report"] = report.name if report.exists() else None
        manifest["nsys"]["agents_killed"] = signalled_agents
    procs = []
    for reg_file in sorted((out / "procs").glob("*.json")):
        try:
            reg = json.loads(reg_file.read_text())
        except (OSError, ValueError):
            continue
        procs.append({k: reg.get(k) for k in ("pid", "ppid", "mode", "reason", "python", "argv", "main_tid")})
    manifest["sampler"]["processes"] = procs
    if remote_summary is not None:
        manifest["sampler"]["remote"] = remote_summary
    manifest["sampler"]["inprocess"] = _inproc_summaries(out)
    manifest["files"] = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    manifest["status"] = "incomplete" if incomplete else "complete"
    if incomplete:
        manifest["incomplete_reason"] = incomplete
    _write_manifest(out, manifest)


def _inproc_summaries(out: Path) -> dict:
    from .samplefile import read_records

    found = {}
    for f in sorted((out / "samples").glob("inproc-*.jsonl.gz")):
        end = None
        for rec in read_records(f):
            if rec[0] == "E":
                end = rec[1]
        found[f.name] = end or {"note": "no end record: the process exited without running atexit handlers"}
    return found
