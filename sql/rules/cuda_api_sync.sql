-- rule: cuda_api_sync
-- title: Device and stream synchronisation calls
-- severity: auto
-- group_by: call_family
-- parity: nsys analyze cuda-sync-api (2022.4; cuda_api_sync in current nsys), same predicate: every API call
--   named like 'cudaDeviceSynchronize%' or 'cudaStreamSynchronize%'. Differences: no 50-row cap, and each call
--   carries the GPU idle it exposed (sync_stall covers every other kind of wait).
-- impact: none (0): the GPU idle these calls exposed (exposed_idle_ns, view sync_stalls) belongs to the idle
--   ledger's host-wait gaps and is reported, with the code that made the calls, by sync_stall; this rule lists the
--   calls as nsys does, so that the same idle is not counted twice.
-- summary: {n} cudaDeviceSynchronize/cudaStreamSynchronize calls on {threads} blocked the host for
--   {sum_dur_ns:time} and left the GPU idle for {sum_exposed_idle_ns:time} after it drained (counted once, in the
--   idle ledger: sync_stall names the code that made them).
-- recommendation: Remove synchronisations that are not needed for correctness; where one stream must wait for
--   another use cudaEventRecord + cudaStreamWaitEvent, and where the host needs a result, wait on an event
--   recorded right after the producing kernel (cudaEventSynchronize) instead of the whole device or stream.
-- why: A device or stream synchronisation blocks the host until all queued work is done, so the GPU drains and
--   stays idle until the host has queued new work.
WITH threads AS (  -- "thread T (pid P)" when one thread made the calls, else how many did
    SELECT CASE WHEN count(*) = 1 THEN 'thread ' || any_value(tid) || ' (pid ' || any_value(pid) || ')'
                ELSE count(*) || ' threads' END AS threads
    FROM (SELECT DISTINCT pid, tid FROM api_calls
          WHERE name ILIKE 'cudaDeviceSynchronize%' OR name ILIKE 'cudaStreamSynchronize%')
),
stalls AS (
    SELECT pid, correlation_id, sum(exposed_idle_ns) AS exposed_idle_ns
    FROM sync_stalls WHERE source = 'api'
    GROUP BY pid, correlation_id
)
SELECT 0 AS impact_ns, coalesce(s.exposed_idle_ns, 0) AS exposed_idle_ns, 'sync' AS call_family, t.threads,
       a.start_ns, a.end_ns, a.dur_ns, a.pid, a.tid,
       a.name AS api_name
FROM api_calls a
LEFT JOIN stalls s ON s.pid = a.pid AND s.correlation_id = a.correlation_id
CROSS JOIN threads t
WHERE a.name ILIKE 'cudaDeviceSynchronize%' OR a.name ILIKE 'cudaStreamSynchronize%'
