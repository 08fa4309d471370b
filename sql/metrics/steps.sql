-- about: Per-iteration figures from the steps view (annotation ranges matching the step patterns): wall time
--   percentiles, GPU busy share, kernels and launches per step, and the same per phase (prefill / decode) when
--   the ranges say so. Percentiles are interpolated (quantile_cont). All NULL when the trace has no step markers.
-- metric step_count: count, none, trace
--   Steps found.
-- metric step_time_mean_ns: ns, lower, trace
--   Mean step wall time.
-- metric step_time_p50_ns: ns, lower, trace
--   Median step wall time.
-- metric step_time_p90_ns: ns, lower, trace
--   90th percentile step wall time.
-- metric step_time_p99_ns: ns, lower, trace
--   99th percentile step wall time.
-- metric step_time_cv: ratio, lower, trace
--   Coefficient of variation of step wall time (sample standard deviation / mean): jitter.
-- metric step_gpu_busy_pct_p50: pct, higher, trace
--   Median over steps of the step's GPU busy share (busy time of the process's GPUs / step wall time * 100).
-- metric step_kernels_p50: count, none, trace
--   Median kernels launched per step.
-- metric step_launches_p50: count, lower, trace
--   Median launch calls per step.
-- metric step_sync_ns_p50: ns, lower, trace
--   Median host time blocked in waits per step.
-- metric phase_step_count: count, none, phase
--   Steps in the phase.
-- metric phase_step_time_p50_ns: ns, lower, phase
--   Median step wall time in the phase.
-- metric phase_step_time_p90_ns: ns, lower, phase
--   90th percentile step wall time in the phase.
-- metric phase_step_time_p99_ns: ns, lower, phase
--   99th percentile step wall time in the phase.
-- metric phase_gpu_busy_pct_p50: pct, higher, phase
--   Median GPU busy share of the phase's steps.
WITH s AS (
    SELECT count(*) AS n, avg(dur_ns) AS mean, quantile_cont(dur_ns, 0.5) AS p50,
           quantile_cont(dur_ns, 0.9) AS p90, quantile_cont(dur_ns, 0.99) AS p99,
           stddev_samp(dur_ns) / nullif(avg(dur_ns), 0) AS cv,
           quantile_cont(gpu_busy_pct, 0.5) AS busy, quantile_cont(kernel_count, 0.5) AS kernels,
           quantile_cont(launch_count, 0.5) AS launches, quantile_cont(sync_ns, 0.5) AS sync
    FROM steps
),
p AS (
    SELECT phase, count(*) AS n, quantile_cont(dur_ns, 0.5) AS p50, quantile_cont(dur_ns, 0.9) AS p90,
           quantile_cont(dur_ns, 0.99) AS p99, quantile_cont(gpu_busy_pct, 0.5) AS busy
    FROM steps WHERE phase IS NOT NULL GROUP BY phase
)
SELECT 'step_count' AS id, CAST(n AS DOUBLE) AS value, CAST(NULL AS VARCHAR) AS key FROM s
UNION ALL SELECT 'step_time_mean_ns', mean, NULL FROM s
UNION ALL SELECT 'step_time_p50_ns', p50, NULL FROM s
UNION ALL SELECT 'step_time_p90_ns', p90, NULL FROM s
UNION ALL SELECT 'step_time_p99_ns', p99, NULL FROM s
UNION ALL SELECT 'step_time_cv', cv, NULL FROM s
UNION ALL SELECT 'step_gpu_busy_pct_p50', busy, NULL FROM s
UNION ALL SELECT 'step_kernels_p50', kernels, NULL FROM s
UNION ALL SELECT 'step_launches_p50', launches, NULL FROM s
UNION ALL SELECT 'step_sync_ns_p50', sync, NULL FROM s
UNION ALL SELECT 'phase_step_count', n, phase FROM p
UNION ALL SELECT 'phase_step_time_p50_ns', p50, phase FROM p
UNION ALL SELECT 'phase_step_time_p90_ns', p90, phase FROM p
UNION ALL SELECT 'phase_step_time_p99_ns', p99, phase FROM p
UNION ALL SELECT 'phase_gpu_busy_pct_p50', busy, phase FROM p
