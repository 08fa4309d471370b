-- rule: cuda_memcpy_sync
-- title: Synchronous memory copies
-- severity: auto
-- group_by: device_id, pid
-- param small_h2d_bytes = 64000: host-to-device copies of at most this many bytes are not reported (nsys: 64 KB)
-- parity: nsys analyze cuda-sync-memcpy (2022.4; cuda_memcpy_sync in current nsys), same predicate: copies
--   launched by an API named like 'cudaMemcpy%' but not '%Async%', except host-to-device copies of at most
--   64,000 bytes and copies within one device. Differences as for cuda_memcpy_async (process-aware join, no
--   duplicate rows, no row cap).
-- impact: the copy's GPU duration.
-- summary: {n} synchronous copies on {gpu} (pid {pid}) moved {sum_bytes:bytes} in {impact:time}; the host was
--   blocked for each one (longest: {bytes:bytes} {copy_kind_name} by {api_name}).
-- recommendation: Use cudaMemcpyAsync on a non-default stream with pinned host memory (in PyTorch
--   tensor.to(device, non_blocking=True) from a pinned tensor) and synchronise only where the data is needed.
-- why: A synchronous copy returns only when the transfer has finished, so the host cannot queue more work
--   meanwhile and the copy cannot overlap kernels.
SELECT m.dur_ns AS impact_ns, m.start_ns, m.end_ns, m.dur_ns, m.src_kind, m.dst_kind, m.copy_kind_name,
       m.bytes,
       m.pid, a.tid, m.device_id, m.context_id, m.stream_id, a.name AS api_name, a.dur_ns AS api_dur_ns
FROM memcpy m
JOIN api_calls a ON a.pid = m.pid AND a.correlation_id = m.correlation_id
WHERE a.name ILIKE 'cudaMemcpy%' AND a.name NOT ILIKE '%Async%'
  AND NOT (m.bytes <= $small_h2d_bytes AND m.copy_kind = 1)
  AND NOT (m.src_device_id IS NOT NULL AND m.src_device_id = m.dst_device_id)
