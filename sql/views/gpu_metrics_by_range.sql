-- gpu_metrics_by_range: time-weighted GPU metrics during each annotation range (NVTX push/pop and start/end
-- ranges, Kineto user annotations; GPU-side annotation copies left out). A range is host time, so it is measured
-- on every GPU that has metrics. Samples are piecewise constant (gpu_metrics_during says how windows shorter than
-- the sampling period are treated).
-- Grain: one row per (range_id, device_id, metric_id). Columns: range_id, name, depth, pid, tid, device_id,
-- metric_id, unit, start_ns, end_ns, mean_value, covered_ns, coverage, samples, period_ns, below_period.
-- No parameters.
CREATE OR REPLACE VIEW gpu_metrics_by_range AS
WITH windows AS (
    SELECT range_id AS interval_id, CAST(NULL AS BIGINT) AS device_id, name, depth, pid, tid, start_ns, end_ns
    FROM nvtx_ranges
    WHERE category IS DISTINCT FROM 'gpu_user_annotation'
)
SELECT interval_id AS range_id, name, depth, pid, tid, device_id, metric_id, unit, start_ns, end_ns, mean_value,
       covered_ns, coverage, samples, period_ns, below_period
FROM gpu_metrics_during(windows)
