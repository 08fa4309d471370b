-- host_point_ranges: the innermost and outermost push/pop annotation range open on the calling thread at each
-- host point that matters for attribution: the API call that launched a GPU operation (point_kind 'launch',
-- point_id = gpu_ops.op_id) and each host wait (point_kind 'sync', point_id = sync_calls.sync_id).
-- Innermost: the latest-starting range on the thread that began at or before the point (ASOF join); if it had
-- already ended, walk up its parents until one is still open (ranges on one thread nest, so that one is the
-- innermost open range). Outermost: the depth-0 range open at the point. Points outside any range have no row.
-- Columns: point_kind, point_id, pid, tid, ts_ns, innermost_range_id, outermost_range_id. No parameters.
CREATE OR REPLACE VIEW host_point_ranges AS
WITH RECURSIVE points AS (
    SELECT 'launch' AS point_kind, op_id AS point_id, api_pid AS pid, api_tid AS tid, api_start_ns AS ts_ns
    FROM cuda_launches
    WHERE api_tid IS NOT NULL
    UNION ALL
    SELECT 'sync', sync_id, pid, tid, start_ns FROM sync_calls WHERE tid IS NOT NULL
),
pp AS (
    SELECT range_id, pid, tid, start_ns, end_ns, parent_id, depth
    FROM nvtx_ranges
    WHERE style = 'PushPop' AND category IS DISTINCT FROM 'gpu_user_annotation'
),
latest AS (
    SELECT p.point_kind, p.point_id, p.ts_ns, r.range_id, r.end_ns, r.parent_id
    FROM points p
    ASOF JOIN pp r ON r.pid = p.pid AND r.tid = p.tid AND r.start_ns <= p.ts_ns
),
walk AS (
    SELECT point_kind, point_id, ts_ns, range_id, end_ns, parent_id FROM latest
    UNION ALL
    SELECT w.point_kind, w.point_id, w.ts_ns, r.range_id, r.end_ns, r.parent_id
    FROM walk w
    JOIN pp r ON r.range_id = w.parent_id
    WHERE w.end_ns < w.ts_ns
),
innermost AS (
    SELECT point_kind, point_id, range_id FROM walk WHERE end_ns >= ts_ns
),
outermost AS (
    SELECT p.point_kind, p.point_id, r.range_id
    FROM points p
    ASOF JOIN (SELECT * FROM pp WHERE depth = 0) r ON r.pid = p.pid AND r.tid = p.tid AND r.start_ns <= p.ts_ns
    WHERE r.end_ns >= p.ts_ns
)
SELECT p.point_kind, p.point_id, p.pid, p.tid, p.ts_ns, i.range_id AS innermost_range_id,
       o.range_id AS outermost_range_id
FROM points p
JOIN outermost o USING (point_kind, point_id)
LEFT JOIN innermost i USING (point_kind, point_id)
