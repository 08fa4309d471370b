-- fleet_straggler: the rank the job waits on: the one whose late arrivals made the other ranks wait longest.
-- Grain: one row, or none when no rank ever kept another waiting.
-- * caused_wait_ns (fleet_ranks), its share of all collective wait, times_last out of collectives.
-- * worst_seq / worst_kind / worst_wait_caused_ns: the matched collective at which it caused the most wait;
--   worst_late_ns: how long after the median of the other ranks it arrived there.
-- Columns: rank, caused_wait_ns, total_wait_ns, share_pct, times_last, collectives, worst_seq, worst_kind,
-- worst_wait_caused_ns, worst_late_ns.
-- No parameters.
CREATE OR REPLACE VIEW fleet_straggler AS
WITH total AS (SELECT sum(wait_caused_ns) AS total_wait_ns, count(*) AS collectives FROM fleet_collectives),
top AS (
    SELECT rank, caused_wait_ns, times_last FROM fleet_ranks
    WHERE caused_wait_ns > 0 ORDER BY caused_wait_ns DESC, rank LIMIT 1
),
worst AS (
    SELECT c.seq, c.kind, c.wait_caused_ns FROM fleet_collectives c JOIN top ON c.last_rank = top.rank
    ORDER BY c.wait_caused_ns DESC, c.seq LIMIT 1
),
late AS (
    SELECT CAST(round(max(a.arrival_ns - a.first_arrival_ns) FILTER (WHERE a.rank = top.rank)
                - median(a.arrival_ns - a.first_arrival_ns) FILTER (WHERE a.rank <> top.rank)) AS BIGINT) AS late_ns
    FROM fleet_arrivals a, top, worst WHERE a.seq = worst.seq
)
SELECT top.rank, top.caused_wait_ns, CAST(total.total_wait_ns AS BIGINT) AS total_wait_ns,
       100.0 * top.caused_wait_ns / nullif(total.total_wait_ns, 0) AS share_pct,
       top.times_last, total.collectives,
       worst.seq AS worst_seq, worst.kind AS worst_kind, CAST(worst.wait_caused_ns AS BIGINT) AS worst_wait_caused_ns,
       late.late_ns AS worst_late_ns
FROM top, total, worst, late
