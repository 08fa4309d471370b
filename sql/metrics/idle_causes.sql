-- about: GPU idle time inside the devices' active spans, split by its one owner cause (view idle_ledger: sync,
--   copy, load, profiler, dependency, queued, launch, host, unknown) and summed over devices; the causes add up to
--   the idle time (gpu_idle_ns), unknown included.
-- metric idle_gap_count: count, lower, trace
--   Idle gaps between GPU operations, all devices.
-- metric idle_sync_ns: ns, lower, trace
--   Idle time while the host was blocked in synchronisations, blocking copies or cudaFree.
-- metric idle_copy_ns: ns, lower, trace
--   Idle time while the host was inside the call that issued the next copy.
-- metric idle_load_ns: ns, lower, trace
--   Idle time while the launching thread loaded a library or module or compiled code (JIT, NVRTC).
-- metric idle_profiler_ns: ns, lower, trace
--   Idle time covered by the profiler's own overhead (buffer flushes).
-- metric idle_dependency_ns: ns, lower, trace
--   Idle time while already-launched work waited on a recorded cross-stream event wait.
-- metric idle_queued_ns: ns, lower, trace
--   Idle time while already-launched work waited with no recorded cross-stream wait (GPU-side launch latency).
-- metric idle_launch_ns: ns, lower, trace
--   Idle time while the launching thread was busy in CUDA API calls (launch overhead).
-- metric idle_host_ns: ns, lower, trace
--   Idle time while the launching thread did CPU work outside CUDA calls.
-- metric idle_unknown_ns: ns, lower, trace
--   Idle time that no recorded evidence explains (operations with no recorded launch call).
WITH c AS (
    SELECT count(*) AS n,
           coalesce(sum(dur_ns) FILTER (WHERE cause = 'sync'), 0) AS sync_ns,
           coalesce(sum(dur_ns) FILTER (WHERE cause = 'copy'), 0) AS copy_ns,
           coalesce(sum(dur_ns) FILTER (WHERE cause = 'load'), 0) AS load_ns,
           coalesce(sum(dur_ns) FILTER (WHERE cause = 'profiler'), 0) AS profiler_ns,
           coalesce(sum(dur_ns) FILTER (WHERE cause = 'dependency'), 0) AS dep_ns,
           coalesce(sum(dur_ns) FILTER (WHERE cause = 'queued'), 0) AS queued_ns,
           coalesce(sum(dur_ns) FILTER (WHERE cause = 'launch'), 0) AS launch_ns,
           coalesce(sum(dur_ns) FILTER (WHERE cause = 'host'), 0) AS host_ns,
           coalesce(sum(dur_ns) FILTER (WHERE cause = 'unknown'), 0) AS unknown_ns
    FROM idle_ledger
)
SELECT 'idle_gap_count' AS id, CAST(n AS DOUBLE) AS value FROM c
UNION ALL SELECT 'idle_sync_ns', sync_ns FROM c
UNION ALL SELECT 'idle_copy_ns', copy_ns FROM c
UNION ALL SELECT 'idle_load_ns', load_ns FROM c
UNION ALL SELECT 'idle_profiler_ns', profiler_ns FROM c
UNION ALL SELECT 'idle_dependency_ns', dep_ns FROM c
UNION ALL SELECT 'idle_queued_ns', queued_ns FROM c
UNION ALL SELECT 'idle_launch_ns', launch_ns FROM c
UNION ALL SELECT 'idle_host_ns', host_ns FROM c
UNION ALL SELECT 'idle_unknown_ns', unknown_ns FROM c
