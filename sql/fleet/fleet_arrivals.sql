-- fleet_arrivals: when each rank arrived at each collective and how long it then waited for the last arriver.
-- Grain: one row per rank x matched collective. A collective is matched when every rank of the fleet has a
-- communication kernel with that seq and all of them are of one kind (rank_collectives says how seq is counted).
-- * arrival_ns: the rank's communication kernel start on the fleet clock; end_ns: its end.
-- * wait_ns = last_arrival_ns - arrival_ns: time the rank sat inside the collective because another rank had not
--   arrived yet (0 for the last arriver). late_ns = arrival_ns - the median arrival of the collective.
-- * is_last: this rank arrived last (ties go to the higher rank); last_rank names the collective's last arriver.
-- * end_offset_ns = end_ns - the median end of the collective: near 0 on a shared clock, since a collective ends
--   nearly together everywhere (fleet_clock uses it).
-- Columns: rank, seq, kind, arrival_ns, end_ns, first_arrival_ns, last_arrival_ns, median_arrival_ns, wait_ns,
-- late_ns, is_last, last_rank, end_offset_ns.
-- No parameters.
CREATE OR REPLACE VIEW fleet_arrivals AS
WITH n AS (SELECT count(*) AS ranks FROM fleet_rank_summary),
-- medians are taken of offsets from the first arrival: epoch nanoseconds do not fit a double's 53 bits exactly
b AS (SELECT *, min(start_ns) OVER (PARTITION BY seq) AS s0 FROM fleet_rank_collectives),
c AS (
    SELECT seq, count(*) AS ranks, count(DISTINCT kind) AS kinds, min(kind) AS kind,
           min(start_ns) AS first_arrival_ns, max(start_ns) AS last_arrival_ns,
           first(rank ORDER BY start_ns DESC, rank DESC) AS last_rank,
           min(s0) + CAST(round(median(start_ns - s0)) AS BIGINT) AS median_arrival_ns,
           min(s0) + CAST(round(median(end_ns - s0)) AS BIGINT) AS median_end_ns
    FROM b
    GROUP BY seq
)
SELECT r.rank, r.seq, c.kind, r.start_ns AS arrival_ns, r.end_ns, c.first_arrival_ns, c.last_arrival_ns,
       c.median_arrival_ns,
       c.last_arrival_ns - r.start_ns AS wait_ns,
       r.start_ns - c.median_arrival_ns AS late_ns,
       r.rank = c.last_rank AS is_last, c.last_rank,
       r.end_ns - c.median_end_ns AS end_offset_ns
FROM fleet_rank_collectives r
JOIN c USING (seq)
CROSS JOIN n
WHERE c.ranks = n.ranks AND c.kinds = 1
