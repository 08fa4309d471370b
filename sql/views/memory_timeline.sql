-- memory_timeline: GPU memory allocated over time, one row per device-memory event (nsys --cuda-memory-usage,
-- Kineto [memory] events). Host kinds (Pinned, Pageable) are left out. Per process, the allocated total is the
-- allocator's own figure when the source records it (Kineto "Total Allocated"); otherwise the running sum of
-- allocations minus frees, raised so it never goes below 0: memory allocated before the capture started is
-- invisible, so this is a lower bound. The device total is the sum over processes. At equal timestamps frees
-- are applied before allocations. Grain: one row per event on a GPU. No parameters.
CREATE OR REPLACE VIEW memory_timeline(
    -- event order on its device (1 = first).
    seq,
    -- event time, ns on the trace timeline.
    ts_ns,
    -- GPU id.
    device_id,
    -- process and thread (thread NULL when unknown).
    pid, tid,
    -- alloc | free.
    operation,
    -- bytes allocated (positive) or freed (negative).
    bytes,
    -- allocation address.
    address,
    -- memory kind (Device, Device Static, Array, Managed, ...).
    mem_kind,
    -- allocated by this process on this device after the event, bytes.
    process_allocated_bytes,
    -- allocated on this device by all processes after the event, bytes.
    device_allocated_bytes
) AS
WITH ev AS (
    SELECT *, row_number() OVER (PARTITION BY device_id
                                 ORDER BY ts_ns, operation = 'alloc', pid, address, bytes) AS seq
    FROM memory_events
    WHERE device_id IS NOT NULL AND device_id >= 0 AND coalesce(mem_kind, '') NOT IN ('Pinned', 'Pageable')
),
running AS (
    SELECT *, sum(bytes) OVER (PARTITION BY device_id, pid ORDER BY seq ROWS UNBOUNDED PRECEDING) AS run
    FROM ev
),
per_process AS (
    SELECT *, coalesce(total_allocated_bytes,
                       run - least(0, min(run) OVER (PARTITION BY device_id, pid))) AS proc_bytes
    FROM running
),
deltas AS (
    SELECT *, proc_bytes - coalesce(lag(proc_bytes) OVER (PARTITION BY device_id, pid ORDER BY seq), 0) AS delta
    FROM per_process
)
SELECT seq, ts_ns, device_id, pid, tid, operation, bytes, address, mem_kind, CAST(proc_bytes AS BIGINT),
       CAST(sum(delta) OVER (PARTITION BY device_id ORDER BY seq ROWS UNBOUNDED PRECEDING) AS BIGINT)
FROM deltas
