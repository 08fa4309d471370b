-- gpu_exposed: how much of one kind of GPU work ran with no other work to hide it, per device:
--   kind 'copy' against 'compute'  copy time (memcpy + memset) with no kernel running;
--   kind 'comm' against 'noncomm'  communication kernel time (view comm_kernels) with no other kernel running
--                                  (exposed communication).
-- For each busy interval [a, b] of the kind, the time the other kind was busy inside it is C(b) - C(a), read from the
-- other kind's running busy totals (gpu_busy.cum_before_ns) with two ASOF joins, so no interval join is needed.
-- Columns: device_id, kind, against, busy_ns, overlapped_ns, exposed_ns (= busy_ns - overlapped_ns). Devices with
-- no work of the kind have no row. No parameters.
CREATE OR REPLACE VIEW gpu_exposed AS
WITH pairs(kind, against) AS (
    VALUES ('copy', 'compute'), ('comm', 'noncomm')
),
own AS (
    SELECT b.device_id, p.kind, p.against, b.start_ns, b.end_ns, b.dur_ns
    FROM gpu_busy b JOIN pairs p ON b.kind = p.kind
),
other AS (
    SELECT b.device_id, p.kind AS pair, b.start_ns, b.dur_ns, b.cum_before_ns
    FROM gpu_busy b JOIN pairs p ON b.kind = p.against
    WHERE b.device_id IN (SELECT device_id FROM own)
),
covered AS (
    SELECT o.device_id, o.kind, o.against, o.dur_ns,
           coalesce(x1.cum_before_ns + least(greatest(o.end_ns - x1.start_ns, 0), x1.dur_ns), 0)
             - coalesce(x0.cum_before_ns + least(greatest(o.start_ns - x0.start_ns, 0), x0.dur_ns), 0) AS overlap_ns
    FROM own o
    ASOF LEFT JOIN other x0 ON x0.device_id = o.device_id AND x0.pair = o.kind AND x0.start_ns <= o.start_ns
    ASOF LEFT JOIN other x1 ON x1.device_id = o.device_id AND x1.pair = o.kind AND x1.start_ns <= o.end_ns
)
SELECT device_id, kind, any_value(against) AS against, CAST(sum(dur_ns) AS BIGINT) AS busy_ns,
       CAST(sum(overlap_ns) AS BIGINT) AS overlapped_ns, CAST(sum(dur_ns) - sum(overlap_ns) AS BIGINT) AS exposed_ns
FROM covered
GROUP BY device_id, kind
