"""Read Python thread stacks out of a CPython process's memory, given a function that reads its bytes.

The same reader serves both sides of out-of-process sampling: the workload process runs it on itself once at
start-up to prove that the struct layout in `cpython_layout` matches its interpreter (a wrong table must never
produce wrong stacks), and the recorder then runs it on the workload through `process_vm_readv`. Reads are not
synchronised with the running interpreter (the target is never paused), so every pointer is sanity-checked and a
torn read yields a shorter stack or an `OSError`, never garbage frames: a frame's code pointer must point to an
object whose type is the interpreter's code type.

Only CPython 3.11+ (the `_PyInterpreterFrame` era) is covered; older or unknown interpreters use the in-process
sampler instead.
"""

from __future__ import annotations

import struct
from bisect import bisect_right
from typing import Callable, NamedTuple

Read = Callable[[int, int], bytes]

MAX_DEPTH = 512
MAX_THREADS = 4096
MAX_STRING = 4096


class Frame(NamedTuple):
    function: str
    file: str
    line: int


class CodeInfo(NamedTuple):
    function: str
    file: str
    firstlineno: int
    starts: list[int]  # code-unit index where each line-table entry starts
    lines: list[int]  # line of that entry (-1 = no location)


def parse_linetable(table: bytes, firstlineno: int) -> tuple[list[int], list[int]]:
    """Decode a CPython 3.11+ location table into (start code unit, line) pairs.

    Each entry starts with a byte whose top bit is set; bits 3-6 give the entry form and bits 0-2 the number of
    code units covered minus one. Form 15 has no location, 14 is the long form (signed line delta then three
    more varints), 13 carries only a signed line delta, 10-12 are one-line forms whose line delta is the form
    minus 10 (two column bytes follow), and 0-9 are short forms on the same line (one column byte).
    """
    starts: list[int] = []
    lines: list[int] = []
    pos, unit, line, n = 0, 0, firstlineno, len(table)

    def varint() -> int:
        nonlocal pos
        b = table[pos]
        pos += 1
        value, shift = b & 63, 6
        while b & 64:
            b = table[pos]
            pos += 1
            value |= (b & 63) << shift
            shift += 6
        return value

    def svarint() -> int:
        v = varint()
        return -(v >> 1) if v & 1 else v >> 1

    while pos < n:
        head = table[pos]
        pos += 1
        form, length = (head >> 3) & 15, (head & 7) + 1
        if form == 15:
            entry_line = -1
        elif form == 14:
            line += svarint()
            varint(), varint(), varint()
            entry_line = line
        elif form == 13:
            line += svarint()
            entry_line = line
        elif form >= 10:
            line += form - 10
            pos += 2
            entry_line = line
        else:
            pos += 1
            entry_line = line
        starts.append(unit)
        lines.append(entry_line)
        unit += length
    return starts, lines


class Layout:
    """Attribute access to one `cpython_layout.LAYOUTS` entry."""

    def __init__(self, values: dict[str, int]):
        self.__dict__.update(values)
        self.tstate_span = (
            max(
                self.tstate_next,
                self.tstate_interp,
                self.tstate_thread_id,
                self.tstate_native_thread_id,
                self.tstate_cframe,
                self.tstate_current_frame,
            )
            + 8
        )
        self.frame_span = max(self.frame_code, self.frame_previous, self.frame_instr, self.frame_owner) + 8
        self.code_span = (
            max(self.code_filename, self.code_name, self.code_qualname, self.code_firstlineno, self.code_linetable) + 8
        )


def _ptr(buf: bytes, off: int) -> int:
    return struct.unpack_from("<Q", buf, off)[0]


def _i32(buf: bytes, off: int) -> int:
    return struct.unpack_from("<i", buf, off)[0]


class StackReader:
    """Stacks of every thread of one interpreter. Code objects are decoded once and cached by address."""

    def __init__(self, read: Read, layout: Layout, interp: int, code_type: int, gil: int | None):
        self.read, self.lay, self.interp, self.code_type, self.gil = read, layout, interp, code_type, gil
        self._codes: dict[int, CodeInfo] = {}

    # --- threads -------------------------------------------------------------------------------------------
    def threads(self) -> list[tuple[int, int, int]]:
        """(tstate address, Python thread ident, native tid) of every thread state, newest first."""
        lay = self.lay
        out = []
        addr = _ptr(self.read(self.interp + lay.interp_threads_head, 8), 0)
        seen = set()
        while addr and addr not in seen and len(out) < MAX_THREADS:
            seen.add(addr)
            buf = self.read(addr, lay.tstate_span)
            if _ptr(buf, lay.tstate_interp) != self.interp:
                raise OSError("thread state does not point back to its interpreter (torn read or wrong layout)")
            out.append((addr, _ptr(buf, lay.tstate_thread_id), _ptr(buf, lay.tstate_native_thread_id)))
            addr = _ptr(buf, lay.tstate_next)
        return out

    def gil_holder(self) -> int:
        """Address of the thread state holding the GIL, or 0 when it is free (or unknown)."""
        if not self.gil:
            return 0
        buf = self.read(self.gil + self.lay.gil_last_holder, self.lay.gil_locked - self.lay.gil_last_holder + 4)
        locked = _i32(buf, self.lay.gil_locked - self.lay.gil_last_holder)
        return _ptr(buf, 0) if locked == 1 else 0

    # --- frames --------------------------------------------------------------------------------------------
    def top_frame(self, tstate: int) -> int:
        lay = self.lay
        if lay.tstate_current_frame >= 0:
            return _ptr(self.read(tstate + lay.tstate_current_frame, 8), 0)
        cframe = _ptr(self.read(tstate + lay.tstate_cframe, 8), 0)
        return _ptr(self.read(cframe + lay.cframe_current_frame, 8), 0) if cframe else 0

    def stack(self, tstate: int) -> list[Frame]:
        """Leaf-first Python frames of one thread. A frame that fails the checks ends the walk."""
        lay = self.lay
        frames: list[Frame] = []
        addr = self.top_frame(tstate)
        while addr and len(frames) < MAX_DEPTH:
            buf = self.read(addr, lay.frame_span)
            code_addr = _ptr(buf, lay.frame_code)
            owner = buf[lay.frame_owner]
            if owner != lay.frame_owner_cstack:
                info = self.code(code_addr)
                if info is None:
                    break
                lasti = (_ptr(buf, lay.frame_instr) - (code_addr + lay.code_adaptive)) // 2
                frames.append(Frame(info.function, info.file, self.line(info, lasti)))
            addr = _ptr(buf, lay.frame_previous)
        return frames

    @staticmethod
    def line(info: CodeInfo, lasti: int) -> int:
        if lasti < 0 or not info.starts:
            return info.firstlineno
        i = bisect_right(info.starts, lasti) - 1
        line = info.lines[i] if i >= 0 else -1
        return line if line >= 0 else info.firstlineno

    def code(self, addr: int) -> CodeInfo | None:
        info = self._codes.get(addr)
        if info is not None:
            return info
        lay = self.lay
        head = self.read(addr, lay.code_span)
        if _ptr(head, lay.object_type) != self.code_type:
            return None
        table = self.bytes_object(_ptr(head, lay.code_linetable))
        firstlineno = _i32(head, lay.code_firstlineno)
        starts, lines = parse_linetable(table, firstlineno)
        info = CodeInfo(
            self.string(_ptr(head, lay.code_qualname)) or self.string(_ptr(head, lay.code_name)),
            self.string(_ptr(head, lay.code_filename)),
            firstlineno,
            starts,
            lines,
        )
        self._codes[addr] = info
        return info

    # --- objects -------------------------------------------------------------------------------------------
    def bytes_object(self, addr: int) -> bytes:
        size = _ptr(self.read(addr + self.lay.bytes_size, 8), 0)
        if size > 1 << 20:
            raise OSError("implausible bytes size (torn read)")
        return self.read(addr + self.lay.bytes_data, size) if size else b""

    def string(self, addr: int) -> str:
        lay = self.lay
        if not addr:
            return ""
        head = self.read(addr, lay.str_state + 4)
        length = min(_ptr(head, lay.str_length), MAX_STRING)
        state = struct.unpack_from("<I", head, lay.str_state)[0]
        if not state & lay.str_compact_mask:
            return "?"
        if state & lay.str_ascii_mask:
            return self.read(addr + lay.str_ascii_size, length).decode("latin-1")
        kind = (state & lay.str_kind_mask) // (lay.str_kind_mask & -lay.str_kind_mask)
        data = self.read(addr + lay.str_compact_size, length * kind) if length else b""
        return data.decode({1: "latin-1", 2: "utf-16-le", 4: "utf-32-le"}.get(kind, "latin-1"), "replace")
