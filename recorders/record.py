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

Signals and exit: see recorders/supervise.py. The recorder exits with the workload's exit code (128+N when it died
of signal N; 0 when --duration stopped it).
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

from . import agent, clocks, memread
from . import nsys as nsys_mod
from .supervise import Supervisor

BUNDLE_FORMAT = "inferscope-bundle"
BUNDLE_VERSION = 1
REPORT_NAME = "profile"
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
        proc = subprocess.run([smi, f"--query-gpu={','.join(fields)}", "--format=csv,noheader,nounits"],
                              capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return []
    return [dict(zip(fields, (v.strip() for v in line.split(",")))) for line in proc.stdout.splitlines()
            if line.strip()]


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
            raise RecordError(f"--sampler remote needs to read the workload's memory, which fails here ({why}); "
                              "see README 'record: permissions', or use --sampler inprocess")
        return "inprocess", f"out-of-process sampling unavailable ({why})"
    return "inprocess", "requested"


def _child_env(out: Path, mode: str, rate: float, with_nsys: bool) -> dict:
    """The workload's environment: the agent hook on PYTHONPATH and where to put samples and annotations."""
    env = dict(os.environ)
    env[ANNOTATIONS_ENV] = str(out / "annotations")  # inferscope.scope()/mark_event() write here
    if mode != "none":
        env["PYTHONPATH"] = os.pathsep.join([str(INJECT_DIR)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
        env[agent.ENV_DIR] = str(out)
        env[agent.ENV_MODE] = mode
        env[agent.ENV_RATE] = str(rate)
        if with_nsys:
            env[agent.ENV_ANCHOR] = "1"
    return env


def _start_manifest(cmd: list[str], mode: str, why: str, rate: float, env: dict) -> dict:
    from inferscope import __version__
    from inferscope.redact import redact_env, redact_text

    return {
        "format": BUNDLE_FORMAT, "format_version": BUNDLE_VERSION, "status": "recording",
        "command": [redact_text(a) for a in cmd], "cwd": os.getcwd(), "hostname": socket.gethostname(),
        "platform": {"system": platform.system(), "release": platform.release(), "machine": platform.machine()},
        "inferscope_version": __version__, "recorder_python": sys.version.split()[0],
        "clock_pairs": {"start": clocks.pair()},
        "gpus": _gpus(),
        "sampler": {"mode": mode, "why": why, "rate_hz": rate},
        "nsys": None,
        "environment": redact_env(env),
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
            raise RecordError(f"nsys not found{f' at INFERSCOPE_NSYS={where}' if where else ''}; "
                              f"{nsys_mod.INSTALL_HINT}")
        problem = nsys_mod.check_user_args(user_args)
        if problem:
            raise RecordError(problem)
        caps = nsys_mod.Capabilities.probe(nsys)
    elif user_args:
        raise RecordError("--nsys-args given together with --no-nsys")
    out = Path(opts.out) if opts.out else _default_out()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise RecordError(f"{out}: already exists and is not an empty directory; choose another -o")
    mode, mode_reason = _choose_sampler(opts)

    out.mkdir(parents=True, exist_ok=True)
    (out / "samples").mkdir()
    (out / "procs").mkdir()
    (out / "annotations").mkdir()
    out = out.resolve()
    env = _child_env(out, mode, opts.sample_rate, bool(nsys))
    manifest = _start_manifest(cmd, mode, mode_reason, opts.sample_rate, env)
    child_cmd = list(cmd)
    if nsys:
        child_cmd, described = nsys_mod.profile_command(nsys, caps, str(out / REPORT_NAME), user_args, cmd)
        manifest["nsys"] = {"path": nsys, "version": nsys_mod.version(nsys), "command": child_cmd, **described,
                            "report": None}
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
    _finish_manifest(out, manifest, end_pair, returncode, received, stopped_by, sampler_summary, signalled_agents)
    report = out / f"{REPORT_NAME}.nsys-rep"
    if nsys and not report.exists():
        _say(opts, f"inferscope: warning: nsys wrote no report (exit code {returncode}); the bundle has only "
                   "Python samples")
    _say(opts, f"inferscope: bundle written to {out} ({_count_samples(manifest)}); "
               f"analyse it with `inferscope analyze {out}`")
    code = _exit_code(returncode)
    if stopped_by == "duration" and code in (0, 128 + signal.SIGINT, 128 + signal.SIGTERM):
        return 0
    return code


def _count_samples(manifest: dict) -> str:
    procs = manifest["sampler"].get("processes", [])
    report = "nsys report" if (manifest.get("nsys") or {}).get("report") else "no nsys report"
    return f"{report}, {len(procs)} Python process(es) sampled"


def _finish_manifest(out: Path, manifest: dict, end_pair: dict, returncode: int, received: list[str],
                     stopped_by: str | None, remote_summary: dict | None, signalled_agents: list[int]) -> None:
    manifest["clock_pairs"]["end"] = end_pair
    manifest["workload"] = {"exit_code": _exit_code(returncode),
                            "signal": signal.Signals(-returncode).name if returncode < 0 else None,
                            "signals_forwarded": received, "stopped_by": stopped_by or (
                                f"signal {received[0]}" if received else "exit")}
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
    manifest["status"] = "complete"
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
