-- rule: cuda_memset_sync
-- title: Synchronous memsets on pinned or managed memory
-- severity: auto
-- steady_state: true
-- group_by: ledger_owner
-- parity: nsys analyze cuda-sync-memset (2022.4; cuda_memset_sync in current nsys), same predicate: memsets of
--   pinned (1) or managed (4) memory launched by an API named like 'cudaMemset%' but not '%async%'.
--   Differences: process-aware join, no row cap.
-- impact: GPU idle before the memset while the host was inside its call (view idle_ledger, cause copy).
-- summary: {n} synchronous memsets of pinned or managed memory on {gpu} (pid {pid}) set {sum_bytes:bytes} in
--   {sum_dur_ns:time}, blocking the host each time; the GPU sat idle {impact:time} while the host was in these calls.
-- recommendation: Use cudaMemsetAsync on the stream that consumes the memory.
-- why: cudaMemset on pinned host or managed memory completes before returning, so the host stalls and cannot
--   queue the next kernels.
SELECT coalesce(li.idle_ns, 0) AS impact_ns, 'cuda_memset_sync' AS ledger_owner, m.start_ns, m.end_ns, m.dur_ns,
       m.mem_kind, m.bytes, m.pid, a.tid, m.device_id,
       m.context_id, m.stream_id, a.name AS api_name
FROM memset m
JOIN api_calls a ON a.pid = m.pid AND a.correlation_id = m.correlation_id
LEFT JOIN cuda_launches cl ON cl.pid = m.pid AND cl.correlation_id = m.correlation_id AND cl.op_kind = 'memset'
    AND cl.kernel_start_ns = m.start_ns AND cl.device_id = m.device_id
LEFT JOIN (SELECT next_op_id, sum(dur_ns) AS idle_ns FROM idle_ledger WHERE owner = 'cuda_memset_sync'
           GROUP BY next_op_id) li
    ON li.next_op_id = cl.op_id
WHERE m.mem_kind IN ('Pinned', 'Managed')
  AND a.name ILIKE 'cudaMemset%' AND a.name NOT ILIKE '%async%'
