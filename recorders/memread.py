"""Read another process's memory with `process_vm_readv` (Linux), without stopping it.

Permission is the ptrace access check (`PTRACE_MODE_ATTACH_REALCREDS`): a process may read its own memory and,
under the default `kernel.yama.ptrace_scope=1`, that of its descendants running as the same user; scope 2 needs
CAP_SYS_PTRACE, scope 3 forbids it, and container seccomp profiles may block the call. A bad address gives
EFAULT instead of a crash, which is why the workload's self-check uses this reader on itself too.
"""

from __future__ import annotations

import ctypes
import errno
import os


class _IoVec(ctypes.Structure):
    _fields_ = [("iov_base", ctypes.c_void_p), ("iov_len", ctypes.c_size_t)]


_calls: dict[bool, object] = {}


def _process_vm_readv(hold_gil: bool):
    # PyDLL keeps the GIL during the call: the workload's self-check needs that to see itself as the GIL holder.
    if hold_gil not in _calls:
        lib = (ctypes.PyDLL if hold_gil else ctypes.CDLL)(None, use_errno=True)
        fn = lib.process_vm_readv
        fn.restype = ctypes.c_ssize_t
        fn.argtypes = [
            ctypes.c_int,
            ctypes.POINTER(_IoVec),
            ctypes.c_ulong,
            ctypes.POINTER(_IoVec),
            ctypes.c_ulong,
            ctypes.c_ulong,
        ]
        _calls[hold_gil] = fn
    return _calls[hold_gil]


def reader(pid: int, hold_gil: bool = False):
    """A `read(addr, size) -> bytes` for process `pid`; raises OSError (EPERM, ESRCH, EFAULT, short read)."""
    call = _process_vm_readv(hold_gil)
    buf = ctypes.create_string_buffer(256)
    local, remote = _IoVec(), _IoVec()

    def read(addr: int, size: int) -> bytes:
        nonlocal buf
        if size <= 0:
            return b""
        if not addr or addr < 4096:
            raise OSError(errno.EFAULT, "null pointer")
        if size > len(buf):
            buf = ctypes.create_string_buffer(size)
        local.iov_base, local.iov_len = ctypes.addressof(buf), size
        remote.iov_base, remote.iov_len = addr, size
        got = call(pid, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0)
        if got != size:
            err = ctypes.get_errno() if got < 0 else errno.EFAULT
            raise OSError(err, os.strerror(err))
        return buf.raw[:size]

    return read


def can_read_children() -> tuple[bool, str]:
    """Try `process_vm_readv` on a forked child (same addresses, so a known byte string can be checked)."""
    probe = b"inferscope-probe-" + str(os.getpid()).encode()
    addr = id(probe) + bytes.__basicsize__ - 1  # where CPython keeps the bytes' data
    if ctypes.string_at(addr, len(probe)) != probe:
        return False, "cannot locate the probe bytes (not CPython?)"
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: wait for the parent to finish reading, then leave without cleanup
        try:
            os.close(w)
            os.read(r, 1)
        finally:
            os._exit(0)
    os.close(r)
    try:
        got = reader(pid)(addr, len(probe))
        return (got == probe, "ok" if got == probe else "read returned other bytes")
    except OSError as exc:
        return False, f"process_vm_readv on a child failed: {exc.strerror or exc} (errno {exc.errno})"
    finally:
        os.close(w)
        os.waitpid(pid, 0)
