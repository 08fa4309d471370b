-- rule: cuda_api_sync
-- title: Device and stream synchronisation calls
-- severity: auto
-- group_by: pid, tid
-- parity: nsys analyze cuda-sync-api (2022.4; cuda_api_sync in current nsys), same predicate: every API call
--   named like 'cudaDeviceSynchronize%' or 'cudaStreamSynchronize%'. Differences: no 50-row cap, and each call
--   carries the GPU idle it exposed (sync_stall covers every other kind of wait).
-- impact: GPU idle exposed by the call (view sync_stalls): from when the device drained during the wait until
--   the next GPU operation started, summed over the process's devices. A wait that returned while the GPU was
--   still busy costs nothing.
-- summary: {n} cudaDeviceSynchronize/cudaStreamSynchronize calls on thread {tid} (pid {pid}) blocked the host
--   for {sum_dur_ns:time} and left the GPU idle for {impact:time} after it drained.
-- recommendation: Remove synchronisations that are not needed for correctness; where one stream must wait for
--   another use cudaEventRecord + cudaStreamWaitEvent, and where the host needs a result, wait on an event
--   recorded right after the producing kernel (cudaEventSynchronize) instead of the whole device or stream.
-- why: A device or stream synchronisation blocks the host until all queued work is done, so the GPU drains and
--   stays idle until the host has queued new work.
WITH stalls AS (
    SELECT pid, correlation_id, sum(exposed_idle_ns) AS exposed_idle_ns
    FROM sync_stalls WHERE source = 'api'
    GROUP BY pid, correlation_id
)
SELECT coalesce(s.exposed_idle_ns, 0) AS impact_ns, a.start_ns, a.end_ns, a.dur_ns, a.pid, a.tid,
       a.name AS api_name
FROM api_calls a
LEFT JOIN stalls s ON s.pid = a.pid AND s.correlation_id = a.correlation_id
WHERE a.name ILIKE 'cudaDeviceSynchronize%' OR a.name ILIKE 'cudaStreamSynchronize%'
