-- hta_kernel_type_breakdown: GPU time per kernel type and per overlap of types, per device, as HTA's
-- get_gpu_kernel_breakdown (with memory kernels) reports it: every moment is labelled by the set of types
-- running, e.g. 'COMPUTATION', 'COMMUNICATION', 'COMPUTATION overlapping COMMUNICATION'. OTHER kernels are not
-- counted. pct is of the device's labelled time; segments counts the sweep segments summed (HTA truncates each
-- segment to whole µs, so on traces with fractional µs HTA reports up to `segments` µs less).
-- Columns: device_id, kernel_type, dur_ns, pct, segments. Requires: hta_gpu_coverage. No parameters.
CREATE OR REPLACE VIEW hta_kernel_type_breakdown AS
WITH labelled AS (
    SELECT device_id, dur_ns, state & 7 AS s
    FROM hta_gpu_coverage
    WHERE state & 7 > 0
),
merged AS (  -- consecutive segments with one label are one segment for HTA too
    SELECT device_id, s, sum(dur_ns) AS dur_ns, count(*) AS pieces FROM labelled GROUP BY device_id, s
)
SELECT device_id,
       concat_ws(' overlapping ', CASE WHEN s & 1 = 1 THEN 'COMPUTATION' END,
                 CASE WHEN s & 2 = 2 THEN 'COMMUNICATION' END, CASE WHEN s & 4 = 4 THEN 'MEMORY' END) AS kernel_type,
       CAST(dur_ns AS BIGINT) AS dur_ns,
       100.0 * dur_ns / sum(dur_ns) OVER (PARTITION BY device_id) AS pct,
       pieces AS segments
FROM merged
