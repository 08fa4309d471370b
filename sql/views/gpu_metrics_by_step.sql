-- gpu_metrics_by_step: time-weighted GPU metrics during each step (steps: one iteration of the workload), on every
-- GPU that has metrics. Samples are piecewise constant (see gpu_metrics_during).
-- Grain: one row per (step_id, device_id, metric_id). Columns: step_id, pid, step_index, name, phase, device_id,
-- metric_id, unit, start_ns, end_ns, mean_value, covered_ns, coverage, samples, period_ns, below_period.
-- No parameters.
CREATE OR REPLACE VIEW gpu_metrics_by_step AS
WITH windows AS (
    SELECT step_id AS interval_id, CAST(NULL AS BIGINT) AS device_id, pid, step_index, name, phase, start_ns, end_ns
    FROM steps
)
SELECT interval_id AS step_id, pid, step_index, name, phase, device_id, metric_id, unit, start_ns, end_ns,
       mean_value, covered_ns, coverage, samples, period_ns, below_period
FROM gpu_metrics_during(windows)
