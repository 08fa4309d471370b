-- about: Holistic Trace Analysis's breakdowns per device (views hta_*; docs/kineto.md): HTA's temporal breakdown,
--   idle time by cause, kernel launch statistics, launch queue length and communication/computation overlap,
--   plus the count of input-pipeline-bound profiler steps. They work on nsys and Kineto traces alike.
-- metric hta_idle_pct: pct, lower, device
--   HTA temporal breakdown: share of the span from the device's first to last GPU operation with nothing running.
-- metric hta_compute_pct: pct, higher, device
--   Share of that span with a COMPUTATION kernel running (communication or copies under compute count as compute).
-- metric hta_non_compute_pct: pct, lower, device
--   Share of that span with only communication, memory or other GPU work running.
-- metric hta_host_wait_ns: ns, lower, device
--   Gaps between operations on a stream whose launch call started after the previous operation ended (the host
--   was late), summed over streams.
-- metric hta_kernel_wait_ns: ns, lower, device
--   Gaps shorter than hta_kernel_wait_ns (30 us) between back-to-back operations on a stream: launch overhead.
-- metric hta_other_wait_ns: ns, lower, device
--   The remaining gaps between operations on a stream (waiting for events, other streams, ...).
-- metric hta_short_kernel_count: count, lower, device
--   Launched operations that ran shorter than the call that launched them (HTA's "short GPU kernels").
-- metric hta_launch_delay_p50_ns: ns, none, device
--   Median time from the end of a launch call to the start of its operation on the GPU (queueing).
-- metric hta_queue_length_mean: ratio, none, device
--   Time-weighted mean number of launched operations waiting on the device's busiest stream.
-- metric hta_comm_comp_overlap_pct: pct, higher, device
--   Share of NCCL kernel time during which a COMPUTATION kernel also ran (HTA's comm/comp overlap).
-- metric hta_input_bound_steps: count, lower, trace
--   Profiler steps in which the input pipeline (DataLoader, collate, preprocessing ranges) took at least
--   hta_input_bound_pct (5 %) of the step.
WITH t AS (SELECT * FROM hta_temporal_breakdown),
idle AS (
    SELECT device_id, CAST(sum(idle_ns) FILTER (WHERE idle_category = 'host_wait') AS DOUBLE) AS host,
           CAST(sum(idle_ns) FILTER (WHERE idle_category = 'kernel_wait') AS DOUBLE) AS kern,
           CAST(sum(idle_ns) FILTER (WHERE idle_category = 'other') AS DOUBLE) AS other
    FROM hta_idle_time_breakdown GROUP BY device_id
),
launch AS (
    SELECT device_id, count(*) FILTER (WHERE gpu_dur_ns < cpu_dur_ns) AS short,
           quantile_cont(launch_delay_ns, 0.5) AS delay_p50
    FROM hta_kernel_launch_stats GROUP BY device_id
),
queue AS (SELECT device_id, max(time_weighted_mean) AS q FROM hta_queue_length_summary GROUP BY device_id)
SELECT 'hta_idle_pct' AS id, idle_pct AS value, device_id FROM t
UNION ALL SELECT 'hta_compute_pct', compute_pct, device_id FROM t
UNION ALL SELECT 'hta_non_compute_pct', non_compute_pct, device_id FROM t
UNION ALL SELECT 'hta_host_wait_ns', coalesce(host, 0), device_id FROM idle
UNION ALL SELECT 'hta_kernel_wait_ns', coalesce(kern, 0), device_id FROM idle
UNION ALL SELECT 'hta_other_wait_ns', coalesce(other, 0), device_id FROM idle
UNION ALL SELECT 'hta_short_kernel_count', short, device_id FROM launch
UNION ALL SELECT 'hta_launch_delay_p50_ns', delay_p50, device_id FROM launch
UNION ALL SELECT 'hta_queue_length_mean', q, device_id FROM queue
UNION ALL SELECT 'hta_comm_comp_overlap_pct', overlap_pct, device_id FROM hta_comm_comp_overlap
UNION ALL SELECT 'hta_input_bound_steps', count(*) FILTER (WHERE input_bound), NULL FROM hta_input_pipeline_steps
