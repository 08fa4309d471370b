-- compare_window: how much a trace holds: counts of kernels, ranges and steps, the kernel time, and the window the
-- activity spans (first start to last end over kernels and ranges). One row. No parameters.
CREATE OR REPLACE VIEW compare_window(
    -- Kernel executions.
    kernels,
    -- Summed kernel time over all devices and streams, ns.
    kernel_time_ns,
    -- Closed ranges (steps excluded).
    ranges,
    -- Complete profiler steps.
    steps,
    -- Last end minus first start over kernels and ranges, ns.
    window_ns
) AS
WITH spans AS (
    SELECT start_ns, end_ns FROM kernels
    UNION ALL
    SELECT start_ns, end_ns FROM nvtx_ranges
)
SELECT (SELECT count(*) FROM kernels),
       (SELECT coalesce(sum(dur_ns), 0) FROM kernels),
       (SELECT count(*) FROM compare_range_samples),
       (SELECT count(*) FROM compare_steps),
       coalesce((SELECT max(end_ns) - min(start_ns) FROM spans), 0)
