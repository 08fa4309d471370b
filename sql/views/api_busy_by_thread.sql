-- api_busy_by_thread: the time each host thread spent inside CUDA API calls, as an interval union per (pid, tid)
-- (a runtime call and the driver calls nested in it count once), with cum_before_ns = API time of the thread before
-- the interval starts. API time inside any window [a, b] is A(b) - A(a), where A(t) = cum_before_ns +
-- clamp(t - start_ns, 0, dur_ns) of the last interval starting at or before t (an ASOF join).
-- The analysis materialises this view with the same sweep in numpy (inferscope/analyze/interval_union.py, tested
-- equal to this SQL); the SQL is the definition, and what a query sees without an analysis.
-- Columns: pid, tid, start_ns, end_ns, dur_ns, cum_before_ns. No parameters.
CREATE OR REPLACE VIEW api_busy_by_thread AS
WITH marked AS (
    SELECT pid, tid, start_ns, end_ns,
           CASE WHEN start_ns <= max(end_ns) OVER (PARTITION BY pid, tid ORDER BY start_ns, end_ns
                                                   ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
                THEN 0 ELSE 1 END AS opens
    FROM api_calls
),
numbered AS (
    SELECT *, sum(opens) OVER (PARTITION BY pid, tid ORDER BY start_ns, end_ns ROWS UNBOUNDED PRECEDING) AS island
    FROM marked
),
islands AS (
    SELECT pid, tid, min(start_ns) AS start_ns, max(end_ns) AS end_ns FROM numbered GROUP BY pid, tid, island
)
SELECT pid, tid, start_ns, end_ns, end_ns - start_ns AS dur_ns,
       coalesce(sum(end_ns - start_ns) OVER (PARTITION BY pid, tid ORDER BY start_ns
                                             ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS cum_before_ns
FROM islands
