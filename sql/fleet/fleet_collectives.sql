-- fleet_collectives: per collective, how far apart the ranks arrived and what that cost, against the transfer.
-- Grain: one row per matched collective (fleet_arrivals).
-- * skew_ns = last_arrival_ns - first_arrival_ns: the arrival skew, the longest any rank waited.
-- * wait_caused_ns: the wait the last arriver caused, summed over the ranks that waited (rank-ns).
-- * transfer_ns: median end - last arrival, the collective's own work once every rank was there.
-- * end_spread_ns: max end - min end across ranks (small when the ranks share a clock).
-- Columns: seq, kind, ranks, first_arrival_ns, last_arrival_ns, last_rank, skew_ns, wait_caused_ns, transfer_ns,
-- end_spread_ns.
-- No parameters.
CREATE OR REPLACE VIEW fleet_collectives AS
SELECT seq, min(kind) AS kind, count(*) AS ranks,
       min(arrival_ns) AS first_arrival_ns, max(arrival_ns) AS last_arrival_ns,
       min(last_rank) AS last_rank,
       max(arrival_ns) - min(arrival_ns) AS skew_ns,
       sum(wait_ns) AS wait_caused_ns,
       CAST(round(median(end_ns - last_arrival_ns)) AS BIGINT) AS transfer_ns,
       max(end_ns) - min(end_ns) AS end_spread_ns
FROM fleet_arrivals
GROUP BY seq
