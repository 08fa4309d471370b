-- rank_before_arrival: what one rank did between its previous communication kernel and its arrival at the next,
-- the evidence for why a rank arrived late at a collective.
-- Grain: one row per communication kernel of the rank (seq as in rank_collectives).
-- * The window runs from the end of the rank's previous communication kernel (collectives end nearly together on
--   every rank, so windows after the first start together) to this kernel's start; before the first, from the
--   start of the rank's first profiler step (or its first GPU operation when it has no steps).
-- * gpu_ns: time in the window with non-communication GPU work running (interval union of kernels, copies,
--   memsets); longest_kernel / longest_kernel_ns: the non-communication kernel with the most time in the window.
-- * sync_ns: host time in synchronising calls (sync_calls: stream, device, event syncs) inside the window.
-- * data_ns: time inside ranges whose name says data loading (DataLoader, data_load, dataloader iterators),
--   interval union.
-- * host_gap_ns: the GPU idle time of the window that neither syncs nor data loading account for:
--   greatest(window_ns - gpu_ns - sync_ns - data_ns, 0), the host busy elsewhere or the GPU starved of launches.
-- Columns: rank, seq, window_start_ns, window_end_ns, window_ns, gpu_ns, sync_ns, data_ns, host_gap_ns,
-- longest_kernel, longest_kernel_ns.
-- Parameters: $rank (the rank number written into the rows), $anchor_ns (added to every time: the rank's clock
-- anchor).
WITH st AS (SELECT count(*) AS n, min(start_ns) AS s FROM steps),
comm AS (
    SELECT row_number() OVER (ORDER BY start_ns, end_ns, stream_id) - 1 AS seq, start_ns, end_ns
    FROM kernels WHERE regexp_matches(name, '(?i)nccl|rccl')
),
work AS (
    SELECT start_ns, end_ns, short_name AS name, true AS is_kernel FROM kernels
    WHERE NOT regexp_matches(name, '(?i)nccl|rccl')
    UNION ALL SELECT start_ns, end_ns, NULL, false FROM memcpy
    UNION ALL SELECT start_ns, end_ns, NULL, false FROM memset
),
first_start AS (
    SELECT CASE WHEN st.n > 0 THEN st.s
                ELSE least((SELECT min(start_ns) FROM work), (SELECT min(start_ns) FROM comm)) END AS s
    FROM st
),
win AS (
    SELECT seq,
           coalesce(lag(end_ns) OVER (ORDER BY seq), (SELECT s FROM first_start)) AS ws,
           start_ns AS we
    FROM comm
),
win_ok AS (SELECT seq, least(ws, we) AS ws, we FROM win),
pieces AS (
    SELECT w.seq, 'gpu' AS cls, greatest(x.start_ns, w.ws) AS a, least(x.end_ns, w.we) AS b
    FROM win_ok w JOIN work x ON x.end_ns > w.ws AND x.start_ns < w.we
    UNION ALL
    SELECT w.seq, 'data', greatest(r.start_ns, w.ws), least(r.end_ns, w.we)
    FROM win_ok w JOIN nvtx_ranges r ON r.end_ns > w.ws AND r.start_ns < w.we
    WHERE regexp_matches(r.name, '(?i)dataloader|data_?load|enumerate\(data|_next_data|__next__')
),
ordered AS (
    SELECT *, max(b) OVER (PARTITION BY seq, cls ORDER BY a, b ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
                  AS prev
    FROM pieces
),
grouped AS (
    SELECT *, sum(CASE WHEN prev IS NULL OR a > prev THEN 1 ELSE 0 END)
              OVER (PARTITION BY seq, cls ORDER BY a, b ROWS UNBOUNDED PRECEDING) AS g
    FROM ordered
),
unions AS (
    SELECT seq, cls, sum(len) AS len
    FROM (SELECT seq, cls, max(b) - min(a) AS len FROM grouped GROUP BY seq, cls, g)
    GROUP BY seq, cls
),
syncs AS (
    SELECT w.seq, sum(least(s.end_ns, w.we) - greatest(s.start_ns, w.ws)) AS len
    FROM win_ok w JOIN sync_calls s ON s.end_ns > w.ws AND s.start_ns < w.we
    GROUP BY w.seq
),
longest AS (
    SELECT w.seq, arg_max(x.name, least(x.end_ns, w.we) - greatest(x.start_ns, w.ws)) AS name,
           max(least(x.end_ns, w.we) - greatest(x.start_ns, w.ws)) AS len
    FROM win_ok w JOIN work x ON x.is_kernel AND x.end_ns > w.ws AND x.start_ns < w.we
    GROUP BY w.seq
),
parts AS (
    SELECT w.seq, w.ws, w.we, w.we - w.ws AS window_ns,
           coalesce((SELECT len FROM unions u WHERE u.seq = w.seq AND u.cls = 'gpu'), 0) AS gpu_ns,
           least(coalesce((SELECT len FROM syncs s WHERE s.seq = w.seq), 0), w.we - w.ws) AS sync_ns,
           coalesce((SELECT len FROM unions u WHERE u.seq = w.seq AND u.cls = 'data'), 0) AS data_ns
    FROM win_ok w
)
SELECT CAST($rank AS BIGINT) AS rank, p.seq,
       p.ws + $anchor_ns AS window_start_ns, p.we + $anchor_ns AS window_end_ns,
       CAST(p.window_ns AS BIGINT) AS window_ns, CAST(p.gpu_ns AS BIGINT) AS gpu_ns,
       CAST(p.sync_ns AS BIGINT) AS sync_ns, CAST(p.data_ns AS BIGINT) AS data_ns,
       CAST(greatest(p.window_ns - p.gpu_ns - p.sync_ns - p.data_ns, 0) AS BIGINT) AS host_gap_ns,
       l.name AS longest_kernel, CAST(l.len AS BIGINT) AS longest_kernel_ns
FROM parts p LEFT JOIN longest l USING (seq)
ORDER BY p.seq
