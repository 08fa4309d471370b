-- hta_kernel_type_breakdown: GPU time per kernel type and per overlap of types, per device, as HTA's
-- get_gpu_kernel_breakdown (with memory kernels) reports it: each type's intervals are merged first, then a
-- sweep labels every moment by the set of types running, e.g. 'COMPUTATION', 'COMMUNICATION',
-- 'COMPUTATION overlapping COMMUNICATION'. OTHER kernels are not counted. pct is of the device's labelled time;
-- segments counts the sweep segments summed (HTA truncates each segment to whole µs, so on traces with
-- fractional µs HTA reports up to `segments` µs less). Columns: device_id, kernel_type, dur_ns, pct, segments.
-- Requires: hta_busy_intervals. No parameters.
CREATE OR REPLACE VIEW hta_kernel_type_breakdown AS
WITH bits(kernel_type, bit) AS (VALUES ('COMPUTATION', 1), ('COMMUNICATION', 2), ('MEMORY', 4)),
edges AS (
    SELECT i.device_id, i.start_ns AS t, b.bit AS delta FROM hta_busy_intervals i JOIN bits b USING (kernel_type)
    UNION ALL
    SELECT i.device_id, i.end_ns, -b.bit FROM hta_busy_intervals i JOIN bits b USING (kernel_type)
),
sweep AS (
    SELECT device_id, t,
           sum(delta) OVER w AS state,
           lead(t) OVER w AS next_t
    FROM edges
    WINDOW w AS (PARTITION BY device_id ORDER BY t, delta ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
),
labelled AS (
    SELECT device_id,
           concat_ws(' overlapping ', CASE WHEN state & 1 = 1 THEN 'COMPUTATION' END,
                     CASE WHEN state & 2 = 2 THEN 'COMMUNICATION' END, CASE WHEN state & 4 = 4 THEN 'MEMORY' END)
               AS kernel_type,
           next_t - t AS dur_ns
    FROM sweep
    WHERE state > 0 AND next_t IS NOT NULL
)
SELECT device_id, kernel_type, CAST(sum(dur_ns) AS BIGINT) AS dur_ns,
       100.0 * sum(dur_ns) / sum(sum(dur_ns)) OVER (PARTITION BY device_id) AS pct,
       count(*) FILTER (WHERE dur_ns > 0) AS segments
FROM labelled
GROUP BY device_id, kernel_type
