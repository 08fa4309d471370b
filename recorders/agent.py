"""What runs inside each Python process of the workload (loaded by recorders/_inject/sitecustomize.py).

It registers the process in the bundle (`procs/<pid>-<n>.json`) so the recorder's out-of-process sampler can find
it, after proving on itself that the recorder will read its interpreter's memory correctly: it reads its own
thread list, GIL holder and stack through exactly the reader the recorder uses and compares them with what the
interpreter reports. If that check fails, or the recorder asked for it, it starts the in-process sampler instead.
It also logs thread names (the out-of-process sampler sees only native ids) and, when nsys is recording, makes
one short sleep whose monotonic bracket the bundle reader uses to measure the clock alignment against nsys's
OS-runtime trace.
"""

from __future__ import annotations

import atexit
import json
import os
import sys
import threading
import time

from .redact import redact_argv

ENV_DIR = "INFERSCOPE_RECORD_DIR"
ENV_MODE = "INFERSCOPE_SAMPLER"
ENV_RATE = "INFERSCOPE_SAMPLE_HZ"
ENV_ANCHOR = "INFERSCOPE_ANCHOR"
ENV_KEEP_SECRETS = "INFERSCOPE_KEEP_SECRETS"  # "1" with `record --keep-secrets`: argv is registered unredacted
PRIVATE_MODE = 0o600  # nsys starts the workload with umask 0: files made with the default mode were world-writable
ANCHOR_SLEEP_S = 0.0002
ANCHOR_COUNT = 3  # the bundle reader uses the tightest: a preempted one only widens its own bracket

_state: dict = {}


def private_open(path: str, mode: str):
    """open() for a bundle file the workload writes, readable and writable by its owner only: the bundle holds
    command lines, and a world-writable registration would let another user steer the recorder's sampler."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if "a" in mode else os.O_TRUNC)
    return os.fdopen(os.open(path, flags, PRIVATE_MODE), mode)


def _write_json(path: str, data: dict) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    with private_open(tmp, "w") as f:
        json.dump(data, f)
    os.replace(tmp, path)


def remote_layout() -> tuple[dict | None, str]:
    """Addresses the out-of-process sampler needs, verified on this very process, or (None, why not)."""
    import ctypes
    import platform
    import sysconfig
    import types

    from . import memread
    from .cpython_layout import LAYOUTS
    from .pystacks import Layout, StackReader

    key = f"{sys.version_info[0]}.{sys.version_info[1]}/{platform.machine()}"
    if sys.implementation.name != "cpython":
        return None, f"{sys.implementation.name} is not CPython"
    if key not in LAYOUTS:
        return None, f"no verified struct layout for CPython {key}"
    if hasattr(sys, "gettotalrefcount") or sysconfig.get_config_var("Py_GIL_DISABLED"):
        return None, "debug or free-threaded CPython build"
    api = ctypes.pythonapi
    for fn in (api.PyInterpreterState_Get, api.PyThreadState_Get):
        fn.restype = ctypes.c_void_p
        fn.argtypes = []
    interp, tstate = api.PyInterpreterState_Get(), api.PyThreadState_Get()
    lay = Layout(LAYOUTS[key])
    read = memread.reader(os.getpid(), hold_gil=True)
    try:
        if lay.gil_in_runtime:
            gil = ctypes.addressof(ctypes.c_char.in_dll(api, "_PyRuntime")) + lay.runtime_gil
        else:
            gil = int.from_bytes(read(interp + lay.interp_gil_ptr, 8), "little")
        reader = StackReader(read, lay, interp, id(types.CodeType), gil)
        mine = [t for t in reader.threads() if t[0] == tstate]
        if mine != [(tstate, threading.get_ident(), threading.get_native_id())]:
            return None, "layout check failed: thread list"
        if reader.gil_holder() != tstate:
            return None, "layout check failed: GIL holder"
        why = _check_stack_of_parked_thread(reader)
    except (OSError, ValueError, IndexError) as exc:
        return None, f"layout check failed: {exc}"
    if why:
        return None, f"layout check failed: {why}"
    return {"layout": key, "interp": interp, "code_type": id(types.CodeType), "gil": gil}, "verified"


def _check_stack_of_parked_thread(reader) -> str | None:
    """Read the stack of a helper thread parked at a known place and compare it with the interpreter's view.

    A thread cannot check its own stack this way: the reader's own calls push and pop frames while it walks.
    """
    ready, release = threading.Event(), threading.Event()
    seen: dict = {}

    def parked():
        seen["tid"] = threading.get_native_id()
        frames, f = [], sys._getframe()
        while f is not None:
            code = f.f_code
            frames.append((getattr(code, "co_qualname", code.co_name), code.co_filename, f.f_lineno))
            f = f.f_back
        seen["expected"] = frames
        ready.set()
        release.wait(5)

    helper = threading.Thread(target=parked, name="inferscope-layout-check", daemon=True)
    helper.start()
    try:
        if not ready.wait(5):
            return "helper thread did not start"
        tstates = [t[0] for t in reader.threads() if t[2] == seen["tid"]]
        if len(tstates) != 1:
            return "helper thread not found in the thread list"
        got = [(fr.function, fr.file, fr.line) for fr in reader.stack(tstates[0])]
    finally:
        release.set()
        helper.join(5)
    expected = seen["expected"]  # from `parked` outwards; the reader also sees Event.wait above it
    tail = got[len(got) - len(expected) :] if len(got) >= len(expected) else []
    if not tail or tail[0][:2] != expected[0][:2] or tail[1:] != expected[1:]:
        return "stack read from memory differs from the interpreter's"
    return None


def _register(bundle: str, mode: str, reason: str, remote: dict | None, anchor: list | None) -> None:
    pid = os.getpid()
    info = {
        "pid": pid,
        "ppid": os.getppid(),
        "mode": mode,
        "reason": reason,
        "argv": list(sys.argv) if os.environ.get(ENV_KEEP_SECRETS) == "1" else redact_argv(sys.argv),
        "python": sys.version.split()[0],
        "executable": sys.executable,
        "main_tid": threading.get_native_id(),
        "registered_mono_ns": time.monotonic_ns(),
        "anchor": anchor,
        **(remote or {}),
    }
    _write_json(os.path.join(bundle, "procs", f"{pid}-{time.monotonic_ns()}.json"), info)


def _log_thread(thread: threading.Thread) -> None:
    path = _state.get("names")
    tid = getattr(thread, "native_id", None)
    if not path or tid is None:
        return
    try:
        with private_open(path, "a") as f:
            f.write(json.dumps([os.getpid(), tid, thread.name]) + "\n")
    except OSError:
        pass


def _hook_thread_names() -> None:
    """Log (pid, native tid, name) when a thread starts and whenever a name is assigned."""
    original_set_native_id = threading.Thread._set_native_id
    original_name = threading.Thread.name

    def _set_native_id(self):
        original_set_native_id(self)
        _log_thread(self)

    def _set_name(self, value):
        original_name.fset(self, value)
        _log_thread(self)

    threading.Thread._set_native_id = _set_native_id
    threading.Thread.name = property(original_name.fget, _set_name, doc=original_name.__doc__)


def start() -> None:
    bundle = os.environ.get(ENV_DIR)
    if not bundle or not os.path.isdir(os.path.join(bundle, "procs")):
        return
    _start_in_this_process(bundle)
    os.register_at_fork(after_in_child=lambda: _start_in_this_process(bundle, forked=True))


def _start_in_this_process(bundle: str, forked: bool = False) -> None:
    requested = os.environ.get(ENV_MODE, "inprocess")
    rate = float(os.environ.get(ENV_RATE, "100") or 100)
    pid = os.getpid()
    old = _state.get("sampler")
    if forked and old is not None:
        old.abandon()
    _state.clear()
    _state["names"] = os.path.join(bundle, "procs", f"{pid}.threads.jsonl")
    if not forked:
        _hook_thread_names()
    _log_thread(threading.current_thread())
    anchor = None
    if os.environ.get(ENV_ANCHOR) == "1" and not forked:
        brackets = []
        for _ in range(ANCHOR_COUNT):
            m0 = time.monotonic_ns()
            time.sleep(ANCHOR_SLEEP_S)
            brackets.append([m0, time.monotonic_ns()])
        anchor = {"tid": threading.get_native_id(), "sleep_s": ANCHOR_SLEEP_S, "brackets": brackets}
    mode, reason, remote = requested, "requested", None
    if requested == "remote":
        remote, reason = remote_layout()
        if remote is None:
            mode = "inprocess"
    _register(bundle, mode, reason, remote, anchor)
    if mode == "inprocess":
        from .inproc import InProcessSampler

        path = os.path.join(bundle, "samples", f"inproc-{pid}-{time.monotonic_ns()}.jsonl.gz")
        sampler = InProcessSampler(path, rate, {"pid": pid})
        _state["sampler"] = sampler
        sampler.start()
        atexit.register(sampler.stop)
        if forked and "multiprocessing" in sys.modules:
            # multiprocessing's fork children leave through os._exit(), skipping atexit, but run its finalizers
            # first; it clears the finalizers it inherited, then runs its after-fork hooks: arm ours there
            import multiprocessing.util as mp_util

            mp_util.register_after_fork(sampler, lambda s: mp_util.Finalize(None, s.stop, exitpriority=-100))
