-- rule: launch_overhead
-- title: Kernels shorter than their launch call
-- severity: auto
-- group_by: device_id, pid
-- param min_kernels = 100: report a device when at least this many launched kernels ran shorter than their launch
--   call ...
-- param min_short_frac = 0.3: ... and they are at least this fraction of the kernels launched on it
-- param graph_min_kernels = 20: a process whose median step launches at least this many kernels, with a steady
--   count (p90 <= 1.1 x p50) and no CUDA graphs, is named a CUDA-graph candidate
-- impact: GPU idle caused by launch overhead on the device (gpu_idle_causes, cause 'launch'), shared among the
--   kernel names in proportion to their short launches; 0 when the GPU was kept busy anyway.
-- summary: {sum_short_kernels:int} of {sum_kernels:int} kernels on {gpu} (pid {pid}) ran shorter than the call that
--   launched them (median kernel {kernel_p50_ns:time} vs launch call {launch_p50_ns:time}); launch-bound idle
--   cost {impact:time}. {graph_note}
-- recommendation: Cut the number of launches: capture the repeated step in a CUDA graph (torch.compile
--   mode="reduce-overhead", torch.cuda.graphs, the engine's CUDA-graph option), fuse elementwise kernels
--   (torch.compile, fused optimizers/attention), and batch more work per kernel.
-- why: When a kernel takes less time than the host needs to launch it, the GPU finishes before the next launch
--   arrives: throughput is set by the CPU's launch rate, not the GPU. A CUDA graph launches a whole step in one call.
WITH short_names AS (
    SELECT name, any_value(short_name) AS short_name FROM kernels GROUP BY name
),
launched AS (
    SELECT l.*, coalesce(k.short_name, l.op_name) AS short_name
    FROM cuda_launches l
    LEFT JOIN short_names k ON k.name = l.op_name
    WHERE l.op_kind = 'kernel' AND l.api_name IS NOT NULL AND l.graph_id IS NULL
),
per_device AS (
    SELECT device_id, pid, count(*) AS kernels, count(*) FILTER (WHERE kernel_dur_ns < api_dur_ns) AS short_kernels,
           quantile_cont(kernel_dur_ns, 0.5) AS kernel_p50_ns, quantile_cont(api_dur_ns, 0.5) AS launch_p50_ns
    FROM launched GROUP BY device_id, pid
),
per_name AS (
    SELECT device_id, pid, short_name, count(*) AS kernels,
           count(*) FILTER (WHERE kernel_dur_ns < api_dur_ns) AS short_kernels,
           avg(kernel_dur_ns) AS avg_kernel_ns, avg(api_dur_ns) AS avg_launch_ns
    FROM launched GROUP BY device_id, pid, short_name
),
launch_idle AS (
    SELECT device_id, sum(dur_ns) AS idle_ns FROM gpu_idle_causes WHERE cause = 'launch' GROUP BY device_id
),
graphs AS (
    SELECT s.pid, s.kernels_p50, s.kernels_p90, s.step_count,
           s.kernels_p50 >= $graph_min_kernels AND s.kernels_p90 <= 1.1 * s.kernels_p50 AS candidate
    FROM step_summary s
)
SELECT CAST(round(coalesce(i.idle_ns, 0) * n.short_kernels / nullif(d.short_kernels, 0)) AS BIGINT) AS impact_ns,
       n.device_id, n.pid, n.short_name, n.kernels, n.short_kernels, n.avg_kernel_ns, n.avg_launch_ns,
       d.kernel_p50_ns, d.launch_p50_ns,
       CASE WHEN g.candidate
            THEN 'Its steps launch a steady ' || CAST(CAST(g.kernels_p50 AS BIGINT) AS VARCHAR)
                 || ' kernels each (median over ' || CAST(g.step_count AS VARCHAR) || ' steps): a CUDA-graph candidate.'
            WHEN g.kernels_p50 IS NOT NULL
            THEN 'Its steps launch ' || CAST(CAST(g.kernels_p50 AS BIGINT) AS VARCHAR) || ' kernels each (median).'
            ELSE '' END AS graph_note
FROM per_name n
JOIN per_device d USING (device_id, pid)
LEFT JOIN launch_idle i USING (device_id)
LEFT JOIN graphs g USING (pid)
WHERE d.short_kernels >= $min_kernels AND d.short_kernels >= $min_short_frac * d.kernels AND n.short_kernels > 0
