-- nvtx_ranges_at(points): the innermost and outermost push/pop annotation range open on a thread at given host
-- points. `points` names a table, view or CTE with columns point_id, pid, tid, ts_ns (e.g. the API call that
-- launched a GPU operation, or a host wait). Table macro, so each caller pays only for its own points.
-- The ranges open at a point on one thread all nest, so the innermost is the one that started last (ties: the
-- deeper one) and the outermost the shallowest. Candidates are found without an interval join: time is cut into
-- 1 ms buckets, a range is listed under every bucket it touches (most ranges touch one) and a point only meets the
-- ranges of its own bucket and thread (equi-join), which are then tested for containment.
-- Columns: point_id, innermost_range_id, outermost_range_id. Points outside any range have no row. No parameters.
CREATE OR REPLACE MACRO nvtx_ranges_at(points) AS TABLE
WITH pts AS (
    SELECT point_id, pid, tid, ts_ns, ts_ns // 1000000 AS bucket FROM query_table(points)
),
-- read twice below, from the file: a materialised copy of every range cost more than the two scans (50M ranges)
pp AS NOT MATERIALIZED (
    SELECT range_id, pid, tid, start_ns, end_ns, depth, start_ns // 1000000 AS b0, end_ns // 1000000 AS b1
    FROM nvtx_ranges
    WHERE style = 'PushPop' AND category IS DISTINCT FROM 'gpu_user_annotation'
),
listed AS (
    SELECT range_id, pid, tid, start_ns, end_ns, depth, b0 AS bucket FROM pp WHERE b0 = b1
    UNION ALL
    SELECT range_id, pid, tid, start_ns, end_ns, depth, unnest(range(b0, b1 + 1)) AS bucket FROM pp WHERE b0 < b1
),
containing AS (
    SELECT p.point_id, r.range_id, r.start_ns, r.depth
    FROM pts p
    JOIN listed r ON r.pid = p.pid AND r.tid = p.tid AND r.bucket = p.bucket
    WHERE r.start_ns <= p.ts_ns AND r.end_ns >= p.ts_ns
)
SELECT point_id, arg_max(range_id, (start_ns, depth)) AS innermost_range_id,
       arg_min(range_id, (depth, start_ns)) AS outermost_range_id
FROM containing
GROUP BY point_id;
