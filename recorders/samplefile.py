"""The bundle's sample files: gzip-compressed JSON lines, one record per line, written by the samplers.

Why this format: the recorder must not need pyarrow on the GPU box, the files must survive a workload or recorder
that dies mid-run (the writer makes a gzip sync point every half second, and the reader keeps everything before a
truncated tail), and interning frames and stacks keeps a sample at about 10 compressed bytes.

Records (JSON arrays, first element the kind):
    ["H", {...}]                          header: pid of the writer, sampler kind, rate, clock pair
    ["F", frame_id, function, file, line] a frame, defined before first use
    ["K", stack_id, [frame_id, ...]]      a stack, leaf first
    ["T", pid, tid, name]                 a thread's name (OS or Python), repeated when it changes
    ["S", mono_ns, real_ns, pid, tid, stack_id, state, gil]
                                          a sample: CLOCK_MONOTONIC and CLOCK_REALTIME ns, native tid,
                                          state running|idle|uninterruptible|stopped|unknown, gil 1/0/null
    ["E", {...}]                          end: sample count, lag statistics, errors
Ids are local to one file.
"""

from __future__ import annotations

import gzip
import json
import os
import time
import zlib
from pathlib import Path
from typing import Iterator

FLUSH_EVERY_S = 0.5


class Writer:
    def __init__(self, path: Path, header: dict):
        self.path = path
        # unbuffered: a forked child holds no copy of our data; owner-only, as the workload's umask may be 0 (nsys)
        self._raw = os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb", buffering=0)
        self._gz = gzip.GzipFile(fileobj=self._raw, mode="wb", compresslevel=6)
        self._frames: dict[tuple, int] = {}
        self._stacks: dict[tuple, int] = {}
        self._names: dict[tuple[int, int], str] = {}
        self._pending: list[str] = []
        self._last_flush = time.monotonic()
        self.samples = 0
        self._put(["H", header])

    def _put(self, record: list) -> None:
        self._pending.append(json.dumps(record, separators=(",", ":")))

    def stack_id(self, frames) -> int:
        """Intern a leaf-first sequence of (function, file, line)."""
        ids = []
        for f in frames:
            key = (f[0], f[1], f[2])
            fid = self._frames.get(key)
            if fid is None:
                fid = self._frames[key] = len(self._frames)
                self._put(["F", fid, key[0], key[1], key[2]])
            ids.append(fid)
        skey = tuple(ids)
        sid = self._stacks.get(skey)
        if sid is None:
            sid = self._stacks[skey] = len(self._stacks)
            self._put(["K", sid, ids])
        return sid

    def thread(self, pid: int, tid: int, name: str) -> None:
        if name and self._names.get((pid, tid)) != name:
            self._names[(pid, tid)] = name
            self._put(["T", pid, tid, name])

    def knows_thread(self, pid: int, tid: int) -> bool:
        return (pid, tid) in self._names

    def sample(
        self, mono_ns: int, real_ns: int, pid: int, tid: int, stack_id: int, state: str, gil: bool | None
    ) -> None:
        self.samples += 1
        self._pending.append(
            f'["S",{mono_ns},{real_ns},{pid},{tid},{stack_id},"{state}",{"null" if gil is None else int(gil)}]'
        )

    def maybe_flush(self) -> None:
        if time.monotonic() - self._last_flush >= FLUSH_EVERY_S:
            self.flush()

    def flush(self) -> None:
        if self._pending:
            self._gz.write(("\n".join(self._pending) + "\n").encode("utf-8"))
            self._pending.clear()
        self._gz.flush(zlib.Z_SYNC_FLUSH)
        self._raw.flush()
        self._last_flush = time.monotonic()

    def detach(self) -> None:
        """Drop this writer without writing (used in a forked child, where the file belongs to the parent)."""
        self._pending.clear()
        self._gz.fileobj = None
        self._raw.close()

    def close(self, summary: dict) -> None:
        self._put(["E", summary])
        self.flush()
        self._gz.close()
        self._raw.close()


def read_records(path: Path) -> Iterator[list]:
    """Every complete record of a sample file, tolerating a truncated or unterminated gzip stream."""
    decomp = zlib.decompressobj(wbits=31)
    tail = b""
    with open(path, "rb") as f:
        while True:
            chunk = f.read(1 << 20)
            if not chunk:
                break
            try:
                data = decomp.decompress(chunk)
            except zlib.error:
                break
            lines = (tail + data).split(b"\n")
            tail = lines.pop()
            for line in lines:
                if line:
                    try:
                        yield json.loads(line)
                    except ValueError:
                        return
            if decomp.eof:
                break
