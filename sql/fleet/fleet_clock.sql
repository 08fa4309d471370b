-- fleet_clock: whether the ranks' clocks agree once each is put on the shared clock by its own anchor.
-- Grain: one row per rank.
-- * anchor_ns / anchor_source: what was added to the rank's times (fleet_rank_info: the trace's
--   session_start_utc_ns, or none).
-- * offset_ns: the median, over matched collectives, of the rank's collective end minus the collective's median
--   end (fleet_arrivals.end_offset_ns): the offset the collectives say remains after the anchor. A collective
--   ends nearly together on every rank, so on a shared clock this is a few microseconds.
-- * residual_ns: the largest |end_offset_ns - offset_ns|, how far single collectives stray from that offset.
-- Columns: rank, anchor_ns, anchor_source, offset_ns, residual_ns, collectives.
-- No parameters.
CREATE OR REPLACE VIEW fleet_clock AS
WITH o AS (SELECT rank, median(end_offset_ns) AS offset_ns, count(*) AS collectives FROM fleet_arrivals GROUP BY rank)
SELECT i.rank, i.anchor_ns, i.anchor_source, CAST(o.offset_ns AS BIGINT) AS offset_ns,
       CAST((SELECT max(abs(a.end_offset_ns - o.offset_ns)) FROM fleet_arrivals a WHERE a.rank = i.rank) AS BIGINT)
           AS residual_ns,
       coalesce(o.collectives, 0) AS collectives
FROM fleet_rank_info i LEFT JOIN o USING (rank)
