"""Build an nsys export that has GPU memory events, on the real schema.

No shared trace was recorded with `--cuda-memory-usage=true`, so the tests copy a real export
(a100x4_cloverleaf_nsys2024.5.sqlite: nsys 2024.5.1, schema 3.13.2, 4x A100 80GB, whose process really calls
cudaMalloc 76 times and cudaFree 68 times) and add a CUDA_GPU_MEMORY_USAGE_EVENTS table with the column list
nsys writes (see /work/shared/research/nsys.md §1.2), one allocation event inside each real cudaMalloc call and
one free inside each real cudaFree call, carrying that call's correlationId. Sizes are chosen by the test.
The real export has no NVTX, so an NVTX_EVENTS table (real columns) is added with "inferscope" annotations that
tile the run into four phases (alternately naming requests r0 and r1). `expected` is computed here from the inserted rows, independently of InferScope.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import NSYS_TRACES
from tests.synth import copy_export

SOURCE = NSYS_TRACES / "a100x4_cloverleaf_nsys2024.5.sqlite"

MEMORY_USAGE_DDL = """
CREATE TABLE CUDA_GPU_MEMORY_USAGE_EVENTS (
    start INTEGER NOT NULL, globalPid INTEGER NOT NULL, deviceId INTEGER NOT NULL, contextId INTEGER NOT NULL,
    address INTEGER NOT NULL, pc INTEGER NOT NULL, bytes INTEGER NOT NULL, memKind INTEGER NOT NULL,
    memoryOperationType INTEGER NOT NULL, name TEXT, correlationId INTEGER, streamId INTEGER,
    localMemoryPoolAddress INTEGER, localMemoryPoolReleaseThreshold INTEGER, localMemoryPoolSize INTEGER,
    localMemoryPoolUtilizedSize INTEGER, importedMemoryPoolAddress INTEGER, importedMemoryPoolProcessId INTEGER
)"""

NVTX_DDL = """
CREATE TABLE NVTX_EVENTS (
    start INTEGER NOT NULL, end INTEGER, eventType INTEGER NOT NULL, rangeId INTEGER, category INTEGER,
    color INTEGER, text TEXT, globalTid INTEGER, endGlobalTid INTEGER, textId INTEGER, domainId INTEGER,
    uint64Value INTEGER, int64Value INTEGER, doubleValue REAL, uint32Value INTEGER, int32Value INTEGER,
    floatValue REAL, jsonTextId INTEGER, jsonText TEXT, binaryData TEXT
)"""

DEVICE_KIND, PINNED_KIND = 2, 1


@dataclass
class Expected:
    capacity_bytes: int
    alloc_size: int
    allocs: int = 0
    frees: int = 0
    peak_bytes: int = 0
    peak_ns: int = 0
    peak_tid: int = 0
    peak_phase: str = ""
    phases: list[tuple[str, int, int]] = field(default_factory=list)
    events: list[tuple[int, int, int]] = field(default_factory=list)  # (ts, signed bytes, address), device only


def build(dst: Path, target_fraction: float) -> Expected:
    """Copy the real export to `dst` and add memory events whose peak is `target_fraction` of GPU 0's memory."""
    dst, con = copy_export(SOURCE, dst.parent, dst.stem)
    try:
        capacity = con.execute("SELECT totalMemory FROM TARGET_INFO_GPU WHERE id = 0").fetchone()[0]
        calls = con.execute(
            "SELECT r.start, r.end, r.correlationId, r.globalTid, s.value FROM CUPTI_ACTIVITY_KIND_RUNTIME r "
            "JOIN StringIds s ON s.id = r.nameId WHERE s.value LIKE 'cudaMalloc%' OR s.value LIKE 'cudaFree%' "
            "ORDER BY r.start"
        ).fetchall()
        context = con.execute("SELECT min(contextId) FROM CUPTI_ACTIVITY_KIND_KERNEL WHERE deviceId = 0").fetchone()[0]
        # the most allocations live at once decides the size that makes the peak hit the target
        live = most = 0
        for *_, name in calls:
            live = live + 1 if name.startswith("cudaMalloc") else max(live - 1, 0)
            most = max(most, live)
        size = int(target_fraction * capacity / most) // (2 << 20) * (2 << 20)
        exp = Expected(capacity_bytes=capacity, alloc_size=size)
        rows, open_addrs = [], deque()
        for i, (start, end, corr, gtid, name) in enumerate(calls):
            ts = start + (end - start) // 2
            gpid = gtid & ~0xFFFFFF
            if name.startswith("cudaMalloc"):
                addr = 0x7F0000000000 + i * (1 << 36)
                open_addrs.append(addr)
                rows.append((ts, gpid, 0, context, addr, 0, size, DEVICE_KIND, 0, None, corr, 0))
                exp.allocs += 1
                exp.events.append((ts, size, gtid & 0xFFFFFF))
            elif open_addrs:
                addr = open_addrs.popleft()
                # every fourth free carries bytes = 0: the size must come from the matching allocation
                rows.append(
                    (ts, gpid, 0, context, addr, 0, 0 if exp.frees % 4 == 0 else size, DEVICE_KIND, 1, None, corr, 0)
                )
                exp.frees += 1
                exp.events.append((ts, -size, gtid & 0xFFFFFF))
        # a pinned host buffer (cudaMallocHost): host memory, must not count as GPU memory
        first = calls[0]
        rows.append(
            (first[0] + 1, first[3] & ~0xFFFFFF, 0, context, 0x10000, 0, 16 << 30, PINNED_KIND, 0, None, first[2], 0)
        )
        con.execute(MEMORY_USAGE_DDL)
        con.executemany(
            "INSERT INTO CUDA_GPU_MEMORY_USAGE_EVENTS (start, globalPid, deviceId, contextId, address, "
            "pc, bytes, memKind, memoryOperationType, name, correlationId, streamId) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            rows,
        )
        # peak: frees before allocations at equal timestamps, first time the maximum is reached
        total = 0
        for ts, delta, tid in sorted(exp.events, key=lambda e: (e[0], e[1] > 0)):
            total += delta
            if total > exp.peak_bytes:
                exp.peak_bytes, exp.peak_ns, exp.peak_tid = total, ts, tid
        # four annotation phases tiling the run on the allocating thread, under one default-domain range
        gtid = calls[0][3]
        t0, t1 = calls[0][0] - 1000, calls[-1][1] + 1000
        cuts = [t0 + (t1 - t0) * k // 4 for k in range(5)]
        con.execute(NVTX_DDL)
        nvtx = [
            (t0 - 500, None, 75, None, None, None, "inferscope", gtid, None, None, 1),
            (t0 - 100, t1 + 100, 59, None, None, None, "run", gtid, None, None, 0),
        ]
        for k in range(4):
            name = ["load", "prefill", "decode", "teardown"][k]
            exp.phases.append((name, cuts[k], cuts[k + 1]))
            text = f'{name} {{"phase_no":{k},"request":"r{k % 2}"}}'
            nvtx.append((cuts[k], cuts[k + 1], 59, None, None, None, text, gtid, None, None, 1))
            if cuts[k] <= exp.peak_ns < cuts[k + 1]:
                exp.peak_phase = name
        con.executemany(
            "INSERT INTO NVTX_EVENTS (start, end, eventType, rangeId, category, color, text, globalTid, "
            "endGlobalTid, textId, domainId) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            nvtx,
        )
        con.commit()
    finally:
        con.close()
    return exp
