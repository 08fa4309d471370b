-- rule: cuda_memcpy_sync
-- title: Synchronous memory copies
-- severity: auto
-- steady_state: true
-- group_by: ledger_owner
-- param small_h2d_bytes = 64000: host-to-device copies of at most this many bytes are not reported (nsys: 64 KB)
-- parity: nsys analyze cuda-sync-memcpy (2022.4; cuda_memcpy_sync in current nsys), same predicate: copies
--   launched by an API named like 'cudaMemcpy%' but not '%Async%', except host-to-device copies of at most
--   64,000 bytes and copies within one device. Differences as for cuda_memcpy_async (process-aware join, no
--   duplicate rows, no row cap).
-- impact: GPU idle before the copy while the host was inside its call (view idle_ledger, cause copy): the
--   copy's own duration is busy time, and idle after a synchronous copy returned is counted by sync_stall, so
--   each idle nanosecond is counted once. One finding for all devices.
-- summary: {n} synchronous copies on {gpu} (pid {pid}) moved {sum_bytes:bytes} in {sum_dur_ns:time}; the host was
--   blocked for each one (longest: {bytes:bytes} {copy_kind_name} by {api_name}{culprit}) and the GPU sat idle
--   {impact:time} while the host was inside these calls.
-- recommendation: Use cudaMemcpyAsync on a non-default stream with pinned host memory (in PyTorch
--   tensor.to(device, non_blocking=True) from a pinned tensor) and synchronise only where the data is needed.
-- why: A synchronous copy returns only when the transfer has finished, so the host cannot queue more work
--   meanwhile and the copy cannot overlap kernels.
WITH copy_points AS (  -- where each synchronous copy call was made, for the annotation range around it
    SELECT hash(pid, correlation_id) AS point_id, pid, tid, start_ns AS ts_ns FROM api_calls
    WHERE name ILIKE 'cudaMemcpy%' AND name NOT ILIKE '%Async%' AND tid IS NOT NULL
)
SELECT coalesce(li.idle_ns, 0) AS impact_ns, 'cuda_memcpy_sync' AS ledger_owner,
       coalesce(' in ' || nvtx_label(r.name), '') AS culprit, m.start_ns, m.end_ns, m.dur_ns, m.src_kind,
       m.dst_kind, m.copy_kind_name,
       m.bytes,
       m.pid, a.tid, m.device_id, m.context_id, m.stream_id, a.name AS api_name, a.dur_ns AS api_dur_ns
FROM memcpy m
JOIN api_calls a ON a.pid = m.pid AND a.correlation_id = m.correlation_id
LEFT JOIN cuda_launches cl ON cl.pid = m.pid AND cl.correlation_id = m.correlation_id AND cl.op_kind = 'memcpy'
    AND cl.kernel_start_ns = m.start_ns AND cl.device_id = m.device_id
LEFT JOIN (SELECT next_op_id, sum(dur_ns) AS idle_ns FROM idle_ledger WHERE owner = 'cuda_memcpy_sync'
           GROUP BY next_op_id) li
    ON li.next_op_id = cl.op_id
LEFT JOIN nvtx_ranges_at(copy_points) h ON h.point_id = hash(a.pid, a.correlation_id)
LEFT JOIN nvtx_ranges r ON r.range_id = h.innermost_range_id
WHERE a.name ILIKE 'cudaMemcpy%' AND a.name NOT ILIKE '%Async%'
  AND NOT (m.bytes <= $small_h2d_bytes AND m.copy_kind = 1)
  AND NOT (m.src_device_id IS NOT NULL AND m.src_device_id = m.dst_device_id)
