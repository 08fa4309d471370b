-- gpu_busy: GPU busy intervals per device as an interval union (never a sum across streams): one row per maximal
-- run of time in which at least one operation of the kind ran on the device.
-- kind: 'all' (any GPU operation), 'compute' (kernels), 'copy' (memcpy + memset), 'comm' (communication kernels,
-- view comm_kernels), 'noncomm' (other kernels; only on devices that ran communication kernels, where it is
-- compared with 'comm').
-- Operations that touch (one ends when the next starts) merge into one interval. Computed by one sorted sweep:
-- an operation opens a new interval when it starts after the latest end seen so far on that device and kind.
-- cum_before_ns is the busy time of the same device and kind before the interval starts, so busy time inside any
-- window [a, b] is B(b) - B(a) with B(t) = cum_before_ns + clamp(t - start_ns, 0, dur_ns) of the last interval
-- starting at or before t (an ASOF join; no interval join).
-- The analysis materialises this view with the same sweep in numpy (inferscope/analyze/interval_union.py, tested
-- equal to this SQL); the SQL is the definition, and what a query sees without an analysis.
-- Columns: device_id, kind, start_ns, end_ns, dur_ns, op_count, cum_before_ns. Requires: gpu_busy_ops. No parameters.
CREATE OR REPLACE VIEW gpu_busy AS
WITH marked AS (
    SELECT device_id, kind, start_ns, end_ns,
           CASE WHEN start_ns <= max(end_ns) OVER (PARTITION BY device_id, kind ORDER BY start_ns, end_ns
                                                   ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
                THEN 0 ELSE 1 END AS opens
    FROM gpu_busy_ops
),
numbered AS (
    SELECT *, sum(opens) OVER (PARTITION BY device_id, kind ORDER BY start_ns, end_ns
                               ROWS UNBOUNDED PRECEDING) AS island
    FROM marked
),
islands AS (
    SELECT device_id, kind, min(start_ns) AS start_ns, max(end_ns) AS end_ns, count(*) AS op_count
    FROM numbered
    GROUP BY device_id, kind, island
)
SELECT device_id, kind, start_ns, end_ns, end_ns - start_ns AS dur_ns, op_count,
       coalesce(sum(end_ns - start_ns) OVER (PARTITION BY device_id, kind ORDER BY start_ns
                                             ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS cum_before_ns
FROM islands
