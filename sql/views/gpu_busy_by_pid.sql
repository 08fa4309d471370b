-- gpu_busy_by_pid: GPU busy intervals of one process across all the devices it used (interval union of that
-- process's operations), with cum_before_ns = busy time of the process before the interval starts. Busy time
-- inside any window [a, b] is then B(b) - B(a), where B(t) = cum_before_ns + clamp(t - start_ns, 0, dur_ns) of the
-- last interval starting at or before t (an ASOF join), so per-step busy time needs no interval join.
-- The analysis materialises this view with the same sweep in numpy (inferscope/analyze/interval_union.py, tested
-- equal to this SQL); the SQL is the definition, and what a query sees without an analysis.
-- Columns: pid, start_ns, end_ns, dur_ns, cum_before_ns. No parameters.
CREATE OR REPLACE VIEW gpu_busy_by_pid AS
WITH marked AS (
    SELECT pid, start_ns, end_ns,
           CASE WHEN start_ns <= max(end_ns) OVER (PARTITION BY pid ORDER BY start_ns, end_ns
                                                   ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
                THEN 0 ELSE 1 END AS opens
    FROM gpu_ops
),
numbered AS (
    SELECT *, sum(opens) OVER (PARTITION BY pid ORDER BY start_ns, end_ns ROWS UNBOUNDED PRECEDING) AS island
    FROM marked
),
islands AS (
    SELECT pid, min(start_ns) AS start_ns, max(end_ns) AS end_ns FROM numbered GROUP BY pid, island
)
SELECT pid, start_ns, end_ns, end_ns - start_ns AS dur_ns,
       coalesce(sum(end_ns - start_ns) OVER (PARTITION BY pid ORDER BY start_ns
                                             ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS cum_before_ns
FROM islands
