-- nvtx_nesting: fills depth and parent_id of ranges in the staging table `_ranges` (the model's nvtx_ranges
-- columns without depth/parent_id), for every ingest path.
-- PushPop ranges nest per (pid, tid): a sweep over start (+1) and end (-1) events gives each range its depth
-- (number of open ranges on that thread when it starts); the parent is the latest-starting range one level up on
-- the same thread (ASOF join). At equal timestamps ends are swept before starts so touching ranges are siblings,
-- and a longer range starts before a shorter one that begins with it. StartEnd ranges do not nest: depth 0.
-- No parameters.
WITH pp AS (
    SELECT range_id, pid, tid, start_ns, end_ns FROM _ranges WHERE style = 'PushPop'
),
ev AS (
    SELECT pid, tid, start_ns AS ts, 1 AS ord, -end_ns AS tiebreak, 1 AS delta, range_id FROM pp
    UNION ALL
    SELECT pid, tid, end_ns AS ts, CASE WHEN end_ns > start_ns THEN 0 ELSE 2 END, 0, -1, NULL FROM pp
),
swept AS (
    SELECT range_id,
           sum(delta) OVER (PARTITION BY pid, tid ORDER BY ts, ord, tiebreak, range_id
                            ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) - 1 AS depth
    FROM ev
),
depths AS (
    SELECT p.*, greatest(s.depth, 0) AS depth FROM pp p JOIN swept s USING (range_id)
),
parents AS (
    SELECT c.range_id, p.range_id AS parent_id
    FROM depths c
    ASOF LEFT JOIN depths p
      ON p.pid = c.pid AND p.tid = c.tid AND p.depth = c.depth - 1 AND p.start_ns <= c.start_ns
)
SELECT r.start_ns, r.end_ns, r.dur_ns, r.range_id, r.pid, r.tid, r.end_tid, r.cross_thread, r.name, r.domain,
       r.style, r.category,
       CAST(coalesce(d.depth, 0) AS INTEGER) AS depth,
       pa.parent_id,
       r.unterminated, r.payload_int, r.payload_double, r.payload_json
FROM _ranges r
LEFT JOIN depths d USING (range_id)
LEFT JOIN parents pa USING (range_id)
