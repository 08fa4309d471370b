-- rule: cuda_memset_sync
-- title: Synchronous memsets on pinned or managed memory
-- severity: auto
-- group_by: device_id, pid
-- parity: nsys analyze cuda-sync-memset (2022.4; cuda_memset_sync in current nsys), same predicate: memsets of
--   pinned (1) or managed (4) memory launched by an API named like 'cudaMemset%' but not '%async%'.
--   Differences: process-aware join, no row cap.
-- impact: the memset's GPU duration.
-- summary: {n} synchronous memsets of pinned or managed memory on {gpu} (pid {pid}) set {sum_bytes:bytes} in
--   {impact:time}, blocking the host each time.
-- recommendation: Use cudaMemsetAsync on the stream that consumes the memory.
-- why: cudaMemset on pinned host or managed memory completes before returning, so the host stalls and cannot
--   queue the next kernels.
SELECT m.dur_ns AS impact_ns, m.start_ns, m.end_ns, m.dur_ns, m.mem_kind, m.bytes, m.pid, a.tid, m.device_id,
       m.context_id, m.stream_id, a.name AS api_name
FROM memset m
JOIN api_calls a ON a.pid = m.pid AND a.correlation_id = m.correlation_id
WHERE m.mem_kind IN ('Pinned', 'Managed')
  AND a.name ILIKE 'cudaMemset%' AND a.name NOT ILIKE '%async%'
