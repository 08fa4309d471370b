-- about: Host-side CUDA work: API calls, launch calls and their cost, kernels shorter than the call that launched
--   them, and host waits (view sync_calls) with the GPU idle they exposed (view sync_stalls).
-- metric api_call_count: count, none, trace
--   CUDA runtime/driver API calls.
-- metric launch_call_count: count, lower, trace
--   API calls that launched GPU work (one cudaGraphLaunch counts once however many kernels it runs).
-- metric launch_api_time_ns: ns, lower, trace
--   Host time spent in those launch calls.
-- metric launch_api_p50_ns: ns, lower, trace
--   Median duration of a launch call.
-- metric short_kernel_pct: pct, lower, trace
--   Kernels whose GPU duration is shorter than their launch call, as a share of the kernels launched one by one
--   (CUDA-graph nodes share one cudaGraphLaunch and are left out).
-- metric graph_kernel_pct: pct, none, trace
--   Kernels run as CUDA-graph nodes, as a share of all kernels.
-- metric sync_count: count, lower, trace
--   Host waits for the GPU (explicit synchronisations, synchronous copies, cudaFree, CUPTI sync records).
-- metric sync_time_ns: ns, lower, trace
--   Host time blocked in those waits.
-- metric sync_exposed_idle_ns: ns, lower, trace
--   GPU idle exposed by host waits (sync_stalls), summed over devices.
WITH launches AS (
    SELECT DISTINCT api_pid, correlation_id, api_dur_ns FROM cuda_launches WHERE api_name IS NOT NULL
),
k AS (
    SELECT count(*) FILTER (WHERE api_name IS NOT NULL AND graph_id IS NULL) AS launched,
           count(*) FILTER (WHERE api_name IS NOT NULL AND graph_id IS NULL AND kernel_dur_ns < api_dur_ns) AS short,
           count(*) FILTER (WHERE graph_id IS NOT NULL) AS graph, count(*) AS n
    FROM cuda_launches WHERE op_kind = 'kernel'
)
SELECT 'api_call_count' AS id, CAST(count(*) AS DOUBLE) AS value FROM api_calls
UNION ALL SELECT 'launch_call_count', count(*) FROM launches
UNION ALL SELECT 'launch_api_time_ns', coalesce(sum(api_dur_ns), 0) FROM launches
UNION ALL SELECT 'launch_api_p50_ns', quantile_cont(api_dur_ns, 0.5) FROM launches
UNION ALL SELECT 'short_kernel_pct', short * 100.0 / nullif(launched, 0) FROM k
UNION ALL SELECT 'graph_kernel_pct', graph * 100.0 / nullif(n, 0) FROM k
UNION ALL SELECT 'sync_count', count(*) FROM sync_calls
UNION ALL SELECT 'sync_time_ns', coalesce(sum(dur_ns), 0) FROM sync_calls
UNION ALL SELECT 'sync_exposed_idle_ns', coalesce(sum(exposed_idle_ns), 0) FROM sync_stalls
