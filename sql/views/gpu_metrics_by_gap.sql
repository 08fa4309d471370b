-- gpu_metrics_by_gap: time-weighted GPU metrics during each idle gap of a GPU (gpu_idle_gaps: no kernel, copy or
-- memset of the trace ran). A gap with SMs active means work the trace did not record (another process, or a
-- capture that missed it); PCIe or DRAM traffic in a gap is traffic without a recorded copy.
-- Grain: one row per (gap_id, metric_id). Columns: gap_id, device_id, metric_id, unit, start_ns, end_ns, dur_ns,
-- mean_value, covered_ns, coverage, samples, period_ns, below_period. No parameters.
CREATE OR REPLACE VIEW gpu_metrics_by_gap AS
WITH windows AS (
    SELECT gap_id AS interval_id, device_id, start_ns, end_ns, dur_ns
    FROM gpu_idle_gaps
)
SELECT interval_id AS gap_id, device_id, metric_id, unit, start_ns, end_ns, dur_ns, mean_value, covered_ns,
       coverage, samples, period_ns, below_period
FROM gpu_metrics_during(windows)
