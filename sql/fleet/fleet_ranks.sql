-- fleet_ranks: the per-rank table of a fleet: step time, GPU busy, compute vs communication, and collective waits.
-- Grain: one row per rank.
-- * step_ns, gpu_busy_ns, compute_ns, comm_ns, comm_exposed_ns: rank_summary (the rank's own steps);
--   gpu_busy_pct = gpu_busy_ns / window; comm_pct = comm_ns / gpu_busy_ns.
-- * waited_ns: time the rank waited inside matched collectives for a later rank (sum of fleet_arrivals.wait_ns);
--   times_last: collectives at which it arrived last; caused_wait_ns: the wait it caused there (sum of
--   fleet_collectives.wait_caused_ns over them); median_late_ns: its median lateness against the median rank.
-- Columns: rank, step_ns, gpu_busy_ns, gpu_busy_pct, compute_ns, comm_ns, comm_pct, comm_exposed_ns, waited_ns,
-- times_last, caused_wait_ns, median_late_ns, collectives.
-- No parameters.
CREATE OR REPLACE VIEW fleet_ranks AS
WITH a AS (
    SELECT rank, sum(wait_ns) AS waited_ns, count(*) FILTER (WHERE is_last) AS times_last,
           median(late_ns) AS median_late_ns, count(*) AS collectives
    FROM fleet_arrivals GROUP BY rank
),
caused AS (SELECT last_rank AS rank, sum(wait_caused_ns) AS caused_wait_ns FROM fleet_collectives GROUP BY 1)
SELECT s.rank, s.step_ns, s.gpu_busy_ns,
       100.0 * s.gpu_busy_ns / nullif(s.window_end_ns - s.window_start_ns, 0) AS gpu_busy_pct,
       s.compute_ns, s.comm_ns, 100.0 * s.comm_ns / nullif(s.gpu_busy_ns, 0) AS comm_pct, s.comm_exposed_ns,
       CAST(coalesce(a.waited_ns, 0) AS BIGINT) AS waited_ns, coalesce(a.times_last, 0) AS times_last,
       CAST(coalesce(caused.caused_wait_ns, 0) AS BIGINT) AS caused_wait_ns,
       a.median_late_ns, coalesce(a.collectives, 0) AS collectives
FROM fleet_rank_summary s
LEFT JOIN a USING (rank)
LEFT JOIN caused USING (rank)
