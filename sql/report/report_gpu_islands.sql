-- report_gpu_islands: busy intervals per GPU as an interval union (never a sum across streams), separately for
-- compute (kernels), copy (memcpy + memset) and any (both). Overlapping or touching work merges into one island.
-- Grain: one row per (device, kind, island). No parameters.
CREATE OR REPLACE VIEW report_gpu_islands(
    -- GPU id (kernels.device_id).
    device_id,
    -- compute | copy | any.
    kind,
    -- Island start, ns on the trace timeline.
    start_ns,
    -- Island end, ns.
    end_ns
) AS
WITH ops AS (
    SELECT device_id, 'compute' AS kind, start_ns, end_ns FROM kernels
    UNION ALL SELECT device_id, 'copy', start_ns, end_ns FROM memcpy
    UNION ALL SELECT device_id, 'copy', start_ns, end_ns FROM memset
),
classes AS (
    SELECT * FROM ops
    UNION ALL SELECT device_id, 'any', start_ns, end_ns FROM ops
),
with_prev AS (
    SELECT *, max(end_ns) OVER (PARTITION BY device_id, kind ORDER BY start_ns, end_ns
                                ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_end_ns
    FROM classes
),
numbered AS (
    SELECT *, sum(CASE WHEN prev_end_ns IS NULL OR start_ns > prev_end_ns THEN 1 ELSE 0 END)
                  OVER (PARTITION BY device_id, kind ORDER BY start_ns, end_ns ROWS UNBOUNDED PRECEDING) AS island
    FROM with_prev
)
SELECT device_id, kind, min(start_ns), max(end_ns)
FROM numbered
GROUP BY device_id, kind, island
