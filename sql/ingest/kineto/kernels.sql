-- kineto kernels: GPU kernel events (cat kernel / Kernel) -> model table `kernels`.
-- grid/block are [x, y, z] lists in args; "registers per thread" and "shared memory" (the kernel's static +
-- dynamic shared memory as Kineto reports it, stored as dynamic_smem_bytes) come from args too. short_name is
-- NULL here: the ingest fills it from the demangled name by bracket depth (inferscope/ingest/kernel_names.py), which
-- SQL string cuts cannot do. graph_id: Kineto records no graph id, so a kernel that a cudaGraphLaunch replayed carries
-- that launch's correlation id instead (one id per replay, not per graph; NULL when launched one by one) and
-- graph_node_id stays NULL. Input: `_kineto_events`, `_kineto_launch_pids`.
-- No parameters.
WITH k AS (
    SELECT e.*,
           json_extract_string(e.args, ['$.grid[0]', '$.grid[1]', '$.grid[2]', '$.block[0]', '$.block[1]',
                                        '$.block[2]', '$."registers per thread"', '$."shared memory"']) AS ka
    FROM _kineto_events e
    WHERE e.kind = 'kernel'
)
SELECT
    k.start_ns, k.start_ns + k.dur_ns AS end_ns, k.dur_ns,
    k.device AS device_id, k.context AS context_id, k.stream AS stream_id, k.correlation AS correlation_id,
    coalesce(l.pid, m.pid) AS pid,
    k.name,
    CAST(NULL AS VARCHAR) AS short_name,
    CAST(NULL AS VARCHAR) AS mangled_name,
    TRY_CAST(ka[1] AS BIGINT) AS grid_x, TRY_CAST(ka[2] AS BIGINT) AS grid_y, TRY_CAST(ka[3] AS BIGINT) AS grid_z,
    TRY_CAST(ka[4] AS BIGINT) AS block_x, TRY_CAST(ka[5] AS BIGINT) AS block_y, TRY_CAST(ka[6] AS BIGINT) AS block_z,
    TRY_CAST(ka[7] AS BIGINT) AS registers_per_thread,
    CAST(NULL AS BIGINT) AS static_smem_bytes,
    TRY_CAST(ka[8] AS BIGINT) AS dynamic_smem_bytes,
    CAST(NULL AS BIGINT) AS graph_node_id,
    CASE WHEN l.graph_launch THEN k.correlation END AS graph_id
FROM k
LEFT JOIN _kineto_launch_pids l ON l.file_idx = k.file_idx AND l.correlation = k.correlation
LEFT JOIN _kineto_launch_pids m ON m.file_idx = k.file_idx AND m.correlation IS NULL
