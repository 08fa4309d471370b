-- compare_step_gpu_metrics: what the GPU's hardware counters said during each compared step (compare_steps), so
-- that compare can tell a slower step that did the same work at lower SM or Tensor Core activity (stalls, idle
-- Tensor Cores, a lower clock) from one that simply did more work. Time-weighted means over the step's wall time,
-- pooled over the GPUs with metrics by sampled time (gpu_metrics_during). No rows without GPU metrics.
-- Grain: one row per step. No parameters.
CREATE OR REPLACE VIEW compare_step_gpu_metrics(
    -- Process that ran the step.
    pid,
    -- Position of the step in its process, from 0 (compare_steps).
    step_number,
    -- SMs Active, % (SMs with at least one warp resident), time-weighted over the step.
    sm_active_pct,
    -- Tensor Active, % (Tensor pipes busy), time-weighted over the step.
    tensor_active_pct
) AS
WITH w AS (
    SELECT row_number() OVER (ORDER BY pid, step_number) AS interval_id, CAST(NULL AS BIGINT) AS device_id, pid,
           step_number, start_ns, end_ns
    FROM compare_steps
)
SELECT pid, step_number,
       sum(mean_value * covered_ns) FILTER (WHERE metric_id = 'sm_active_pct')
           / nullif(sum(covered_ns) FILTER (WHERE metric_id = 'sm_active_pct'), 0),
       sum(mean_value * covered_ns) FILTER (WHERE metric_id = 'tensor_active_pct')
           / nullif(sum(covered_ns) FILTER (WHERE metric_id = 'tensor_active_pct'), 0)
FROM gpu_metrics_during(w)
WHERE metric_id IN ('sm_active_pct', 'tensor_active_pct')
GROUP BY pid, step_number
