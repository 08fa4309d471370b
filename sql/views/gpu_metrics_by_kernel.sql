-- gpu_metrics_by_kernel: GPU metrics during each kernel execution, on the kernel's own GPU. The counters are
-- device-wide: they describe everything running on the GPU at the time, which is the kernel alone only when it
-- ran alone. A kernel shorter than the sampling period gets the value of the sample(s) enclosing it
-- (below_period is true and samples is 1 or 2): that value covers the sample's whole window, not the kernel.
-- Grain: one row per (kernel execution, metric_id). kernel_no numbers executions by (device_id, start_ns,
-- stream_id, correlation_id) from 1. Columns: kernel_no, stream_id, correlation_id, pid, short_name, name, start_ns,
-- end_ns, dur_ns, device_id, metric_id, unit, mean_value, covered_ns, coverage, samples, period_ns, below_period.
-- No parameters. A trace without metrics numbers no kernels: the numbering sorts every execution in one window,
-- which on a million kernels was the largest thing an analysis held under a small memory limit, for no rows.
CREATE OR REPLACE VIEW gpu_metrics_by_kernel AS
WITH windows AS (
    SELECT row_number() OVER (ORDER BY device_id, start_ns, stream_id, correlation_id) AS interval_id, device_id,
           stream_id, correlation_id, pid, short_name, name, start_ns, end_ns, dur_ns
    FROM kernels
    WHERE EXISTS (SELECT 1 FROM gpu_metric_info)
)
SELECT interval_id AS kernel_no, stream_id, correlation_id, pid, short_name, name, start_ns, end_ns, dur_ns,
       device_id, metric_id, unit, mean_value, covered_ns, coverage, samples, period_ns, below_period
FROM gpu_metrics_during(windows)
