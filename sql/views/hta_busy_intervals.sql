-- hta_busy_intervals: per device, the union of GPU operation intervals, for all operations (kernel_type 'ALL')
-- and for each HTA kernel type separately: one row per maximal run of time in which at least one such operation
-- ran. Operations that touch (one starts when another ends) merge, as HTA's merge_kernel_intervals does.
-- Sorted sweep: an operation opens a new interval when it starts after the latest end seen so far.
-- Columns: device_id, kernel_type, start_ns, end_ns, dur_ns, op_count. Requires: hta_gpu_ops. No parameters.
CREATE OR REPLACE VIEW hta_busy_intervals AS
WITH ops AS (
    SELECT device_id, 'ALL' AS kernel_type, start_ns, end_ns FROM hta_gpu_ops
    UNION ALL
    SELECT device_id, kernel_type, start_ns, end_ns FROM hta_gpu_ops
),
marked AS (
    SELECT *,
           CASE WHEN start_ns <= max(end_ns) OVER (PARTITION BY device_id, kernel_type ORDER BY start_ns, end_ns
                                                   ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
                THEN 0 ELSE 1 END AS opens
    FROM ops
),
islands AS (
    SELECT *, sum(opens) OVER (PARTITION BY device_id, kernel_type ORDER BY start_ns, end_ns
                               ROWS UNBOUNDED PRECEDING) AS island
    FROM marked
)
SELECT device_id, kernel_type, min(start_ns) AS start_ns, max(end_ns) AS end_ns,
       max(end_ns) - min(start_ns) AS dur_ns, count(*) AS op_count
FROM islands
GROUP BY device_id, kernel_type, island
