-- gpu_busy: GPU busy intervals per device as an interval union (never a sum across streams): one row per maximal
-- run of time in which at least one operation of the kind ran on the device.
-- kind: 'all' (any GPU operation), 'compute' (kernels), 'copy' (memcpy + memset), 'comm' (NCCL kernels),
-- 'noncomm' (kernels that are not NCCL).
-- Operations that touch (one ends when the next starts) merge into one interval. Computed by one sorted sweep:
-- an operation opens a new interval when it starts after the latest end seen so far on that device and kind.
-- Columns: device_id, kind, start_ns, end_ns, dur_ns, op_count. No parameters.
CREATE OR REPLACE VIEW gpu_busy AS
WITH ops AS (
    SELECT device_id, 'all' AS kind, start_ns, end_ns FROM gpu_ops
    UNION ALL
    SELECT device_id, op_class, start_ns, end_ns FROM gpu_ops
    UNION ALL
    SELECT device_id, CASE WHEN is_comm THEN 'comm' ELSE 'noncomm' END, start_ns, end_ns
    FROM gpu_ops
    WHERE op_class = 'compute'
),
marked AS (
    SELECT *,
           CASE WHEN start_ns <= max(end_ns) OVER (PARTITION BY device_id, kind ORDER BY start_ns, end_ns
                                                   ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
                THEN 0 ELSE 1 END AS opens
    FROM ops
),
numbered AS (
    SELECT *, sum(opens) OVER (PARTITION BY device_id, kind ORDER BY start_ns, end_ns
                               ROWS UNBOUNDED PRECEDING) AS island
    FROM marked
)
SELECT device_id, kind, min(start_ns) AS start_ns, max(end_ns) AS end_ns, max(end_ns) - min(start_ns) AS dur_ns,
       count(*) AS op_count
FROM numbered
GROUP BY device_id, kind, island
