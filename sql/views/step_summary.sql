-- step_summary: per process, how its steps behaved: count, wall time p50/p90 (quantile_cont), median GPU busy share,
-- median kernels and launches per step and their p90. Thresholds "relative to step time" in rules read p50_ns here.
-- Columns: pid, step_count, p50_ns, p90_ns, busy_pct_p50, kernels_p50, kernels_p90, launches_p50. No parameters.
CREATE OR REPLACE VIEW step_summary AS
SELECT pid, count(*) AS step_count, quantile_cont(dur_ns, 0.5) AS p50_ns, quantile_cont(dur_ns, 0.9) AS p90_ns,
       quantile_cont(gpu_busy_pct, 0.5) AS busy_pct_p50, quantile_cont(kernel_count, 0.5) AS kernels_p50,
       quantile_cont(kernel_count, 0.9) AS kernels_p90, quantile_cont(launch_count, 0.5) AS launches_p50
FROM steps
GROUP BY pid
