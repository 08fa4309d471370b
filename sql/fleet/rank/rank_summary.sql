-- rank_summary: one rank's step time and how its GPU time splits into compute and communication.
-- Grain: one row for the rank (run on the worker over that rank's cached model; the reduce reads every rank's row).
-- * window: the rank's profiler steps, first start to last end (steps view); a trace without steps uses the span
--   of its GPU work. step_count, step_ns (median step duration; the window when there are no steps).
-- * gpu_busy_ns: time in the window in which any GPU operation (kernel, copy, memset) ran, as an interval union;
--   compute_ns: the same for everything but communication kernels (NCCL/RCCL); comm_ns: the union of the
--   communication kernels alone (it includes time spent waiting inside them for the other ranks);
--   comm_exposed_ns = gpu_busy_ns - compute_ns, communication that no other GPU work overlapped.
-- * kernel_ns / comm_kernel_ns: plain sums of kernel durations (non-communication / communication).
-- Columns: rank, window_start_ns, window_end_ns, step_count, step_ns, gpu_busy_ns, compute_ns, comm_ns,
-- comm_exposed_ns, kernel_ns, comm_kernel_ns, comm_kernels.
-- Parameters: $rank (the rank number written into the row), $anchor_ns (added to every time: the rank's clock
-- anchor, so that all ranks share one timeline).
WITH st AS (
    SELECT count(*) AS n, min(start_ns) AS s, max(end_ns) AS e, median(dur_ns) AS step_ns FROM steps
),
ops AS (
    SELECT start_ns, end_ns, regexp_matches(name, '(?i)nccl|rccl') AS comm, dur_ns, true AS is_kernel FROM kernels
    UNION ALL SELECT start_ns, end_ns, false, dur_ns, false FROM memcpy
    UNION ALL SELECT start_ns, end_ns, false, dur_ns, false FROM memset
),
span AS (
    SELECT CASE WHEN st.n > 0 THEN st.s ELSE (SELECT min(start_ns) FROM ops) END AS s,
           CASE WHEN st.n > 0 THEN st.e ELSE (SELECT max(end_ns) FROM ops) END AS e
    FROM st
),
clipped AS (
    SELECT c.cls, greatest(o.start_ns, span.s) AS a, least(o.end_ns, span.e) AS b
    FROM ops o, span, (VALUES ('busy'), ('compute'), ('comm')) c(cls)
    WHERE o.end_ns > span.s AND o.start_ns < span.e
      AND (c.cls = 'busy' OR (c.cls = 'comm') = o.comm)
),
ordered AS (
    SELECT *, max(b) OVER (PARTITION BY cls ORDER BY a, b ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev
    FROM clipped
),
grouped AS (
    SELECT *, sum(CASE WHEN prev IS NULL OR a > prev THEN 1 ELSE 0 END)
              OVER (PARTITION BY cls ORDER BY a, b ROWS UNBOUNDED PRECEDING) AS g
    FROM ordered
),
merged AS (SELECT cls, max(b) - min(a) AS len FROM grouped GROUP BY cls, g),
totals AS (
    SELECT coalesce(sum(len) FILTER (WHERE cls = 'busy'), 0) AS busy,
           coalesce(sum(len) FILTER (WHERE cls = 'compute'), 0) AS compute,
           coalesce(sum(len) FILTER (WHERE cls = 'comm'), 0) AS comm
    FROM merged
)
SELECT CAST($rank AS BIGINT) AS rank,
       span.s + $anchor_ns AS window_start_ns,
       span.e + $anchor_ns AS window_end_ns,
       st.n AS step_count,
       CAST(CASE WHEN st.n > 0 THEN st.step_ns ELSE span.e - span.s END AS BIGINT) AS step_ns,
       CAST(totals.busy AS BIGINT) AS gpu_busy_ns,
       CAST(totals.compute AS BIGINT) AS compute_ns,
       CAST(totals.comm AS BIGINT) AS comm_ns,
       CAST(totals.busy - totals.compute AS BIGINT) AS comm_exposed_ns,
       (SELECT CAST(coalesce(sum(dur_ns), 0) AS BIGINT) FROM ops WHERE is_kernel AND NOT comm) AS kernel_ns,
       (SELECT CAST(coalesce(sum(dur_ns), 0) AS BIGINT) FROM ops WHERE comm) AS comm_kernel_ns,
       (SELECT count(*) FROM ops WHERE comm) AS comm_kernels
FROM st, span, totals
