"""The Nsight Systems side of `inferscope record`: find nsys, learn what this version supports, build the
`nsys profile` command with inference defaults, and clean up the agent processes a profile leaves behind.

Defaults are chosen per installed version by reading `nsys profile --help`, because options appear over releases
and an unknown option makes nsys refuse to start. Any option the user passes through `--nsys-args` replaces the
default of the same name.

Perf-based CPU collection is off by default (`--sample=none --cpuctxsw=none`): with it, nsys 2022.4 hangs after
the workload exited in most runs on some machines (an agent thread spins on EPOLLHUP from its perf descriptors),
which loses the whole report, and the recorder's own sampler already records where Python spent its time. Pass
`--nsys-args "-s cpu"` (or `--cpuctxsw=process-tree`) to turn it back on. `--python-sampling` is not a default
either: it duplicates our sampler at up to 1 kHz, and its pairing with CPU sampling differs across releases.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import signal
import subprocess
import time

# (option, value, trace APIs it needs) in the order they go on the command line.
TRACE_WANTED = ("cuda", "nvtx", "osrt", "cublas", "cudnn")
DEFAULTS = (
    ("--sample", "none"),
    ("--cpuctxsw", "none"),
    ("--cuda-memory-usage", "true"),
    ("--cuda-graph-trace", "node"),
    ("--trace-fork-before-exec", "true"),
)
SHORT = {
    "-t": "--trace",
    "-s": "--sample",
    "-o": "--output",
    "-d": "--duration",
    "-b": "--backtrace",
    "-w": "--show-output",
    "-x": "--stop-on-exit",
    "-f": "--force-overwrite",
    "-y": "--delay",
    "-e": "--env-var",
    "-n": "--inherit-environment",
    "-c": "--capture-range",
    "-p": "--nvtx-capture",
}
FORBIDDEN = {
    "--output": "the report goes into the bundle; choose the bundle directory with `inferscope record -o DIR`",
    "--export": "the bundle keeps the .nsys-rep; InferScope exports it when analysing",
    "--session-new": "the recorder must own the profiling session to clean it up",
}

INSTALL_HINT = (
    "install Nsight Systems (Debian: apt-get install nsight-systems from non-free) or set "
    "INFERSCOPE_NSYS=/path/to/nsys, or pass --no-nsys to record Python samples only"
)


def find_nsys() -> str | None:
    explicit = os.environ.get("INFERSCOPE_NSYS")
    if explicit:
        return explicit if os.path.isfile(explicit) and os.access(explicit, os.X_OK) else None
    found = shutil.which("nsys")
    if found:
        return found
    candidates = sorted(glob.glob("/opt/nvidia/nsight-systems/*/bin/nsys")) + sorted(
        glob.glob("/usr/local/cuda*/bin/nsys")
    )
    return candidates[-1] if candidates else None


def version(nsys: str) -> str:
    out = subprocess.run([nsys, "--version"], capture_output=True, text=True, timeout=60).stdout
    m = re.search(r"(\d{4}\.\d+(?:\.\d+)*)", out)
    return m.group(1) if m else "unknown"


class Capabilities:
    """What `nsys profile --help` of this installation offers."""

    def __init__(self, help_text: str):
        self.options = set(re.findall(r"(--[a-z0-9][a-z0-9-]*)(?:\[|=|\s|,)", help_text))
        m = re.search(r"--trace=\s*\n(?P<body>(?:[^\n]*\n){1,12})", help_text)
        body = m.group("body") if m else ""
        body = body.split("Select the API", 1)[0]
        self.trace_apis = re.findall(r"'([a-z0-9-]+)'", body)

    @classmethod
    def probe(cls, nsys: str) -> "Capabilities":
        proc = subprocess.run([nsys, "profile", "--help"], capture_output=True, text=True, timeout=120)
        return cls(proc.stdout + proc.stderr)


def user_options(args: list[str]) -> set[str]:
    """Long names of the options present in the user's extra nsys arguments."""
    names = set()
    for a in args:
        if a.startswith("--"):
            names.add(a.split("=", 1)[0])
        elif a.startswith("-") and len(a) >= 2:
            names.add(SHORT.get(a[:2], a[:2]))
    return names


def check_user_args(args: list[str]) -> str | None:
    """A message when the user's extra arguments collide with what the recorder must control."""
    for name in user_options(args):
        if name in FORBIDDEN:
            return f"--nsys-args may not contain {name}: {FORBIDDEN[name]}"
    return None


def profile_command(
    nsys: str,
    caps: Capabilities,
    report_base: str,
    user_args: list[str],
    workload: list[str],
    requested: list[str] = (),
) -> tuple[list[str], dict]:
    """The `nsys profile` command line and a description of the chosen defaults for the manifest.

    `requested` are options the recorder's own flags asked for (--gpu-metrics); they sit between the defaults and
    the user's --nsys-args, which were already checked not to repeat them."""
    given = user_options(user_args)
    chosen: list[str] = []
    skipped: list[str] = []
    if "--trace" not in given:
        apis = [a for a in TRACE_WANTED if a in caps.trace_apis]
        skipped += [f"--trace={a}" for a in TRACE_WANTED if a not in caps.trace_apis]
        if apis:
            chosen.append("--trace=" + ",".join(apis))
    for opt, value in DEFAULTS:
        if opt in given:
            continue
        if opt == "--cpuctxsw" and "--sample" in given:
            continue  # whoever turns sampling back on gets nsys's own pairing of the two (cpuctxsw follows sample)
        if opt in caps.options:
            chosen.append(f"{opt}={value}")
        else:
            skipped.append(opt)
    cmd = [
        nsys,
        "profile",
        *chosen,
        *requested,
        *user_args,
        "--output",
        report_base,
        "--force-overwrite",
        "true",
        *workload,
    ]
    return cmd, {"defaults": chosen, "unsupported_defaults": skipped, "user_args": user_args}


def _cmdline(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [p.decode(errors="replace") for p in f.read().split(b"\0") if p]
    except OSError:
        return []


def session_agents(nsys_pid: int) -> list[int]:
    """`nsys --start-agent` processes serving the profile run by the nsys CLI process `nsys_pid`.

    nsys 2022.4 names the agent's session `profile-<app>-<CLI pid>`; only agents whose session name ends in
    our CLI's pid are returned, so agents of other people's profiles are never touched.
    """
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        args = _cmdline(int(entry))
        if "--start-agent" not in args:
            continue
        for a in args:
            if a.startswith("--session-name=") and a.endswith(f"-{nsys_pid}"):
                out.append(int(entry))
    return out


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    data = f.read()
                fields = data[data.rfind(b")") + 2 :].split()
            except (OSError, IndexError):
                continue
            if fields[0] != b"Z":
                children.setdefault(int(fields[1]), []).append(int(entry))
    return children


def _is_nsys_binary(pid: int) -> bool:
    try:
        exe = os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return True  # gone or unreadable: not a workload process we could wait for
    return "nsight-systems" in exe or os.path.basename(exe).startswith(("nsys", "QdstrmImporter"))


def workload_running(nsys_pid: int) -> bool:
    """Whether any live process under the nsys CLI is the workload rather than an nsys helper."""
    children = _children_map()
    todo = list(children.get(nsys_pid, []))
    while todo:
        pid = todo.pop()
        if not _is_nsys_binary(pid):
            return True
        todo.extend(children.get(pid, []))
    return False


def generating(nsys_pid: int) -> bool:
    """Whether one of this session's agents is converting the capture into the report (QdstrmImporter runs)."""
    children = _children_map()
    return any("QdstrmImporter" in " ".join(_cmdline(c)) for a in session_agents(nsys_pid) for c in children.get(a, []))


def shutdown(nsys: str, nsys_pid: int) -> None:
    """Ask the profiler to end our session (the only way out of a session stuck after the workload exited)."""
    for a in session_agents(nsys_pid):
        for arg in _cmdline(a):
            if arg.startswith("--session-name="):
                subprocess.run([nsys, "shutdown", f"--session={arg.split('=', 1)[1]}"], capture_output=True, timeout=60)
                return


def cleanup(nsys_pid: int, grace_s: float = 15.0) -> list[int]:
    """After the nsys CLI exited: wait for its agents to finish, then end the ones still there (by PID).

    An agent left running by a killed profile makes later profiles hang. Returns the PIDs that had to be
    signalled. Also ends leftover helpers (nsys-launcher) in the CLI's own process group, which the recorder
    created for it.
    """
    deadline = time.monotonic() + grace_s
    agents = session_agents(nsys_pid)
    while agents and time.monotonic() < deadline:
        time.sleep(0.2)
        agents = [p for p in agents if os.path.exists(f"/proc/{p}") and "--start-agent" in _cmdline(p)]
    signalled = list(agents)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for p in agents:
            try:
                os.kill(p, sig)
            except ProcessLookupError:
                pass
            if sig == signal.SIGKILL:  # a killed agent cannot remove its registration itself
                try:
                    os.unlink(f"/dev/shm/quadd-agent-instance-{p}")
                except OSError:
                    pass
        end = time.monotonic() + 3
        while agents and time.monotonic() < end:
            time.sleep(0.1)
            agents = [p for p in agents if os.path.exists(f"/proc/{p}") and "--start-agent" in _cmdline(p)]
        if not agents:
            break
    try:
        os.killpg(nsys_pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    return signalled
