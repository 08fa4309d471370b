-- gpu_exposed: how much of one kind of GPU work ran with no other work to hide it, per device:
--   kind 'copy' against 'compute'  copy time (memcpy + memset) with no kernel running;
--   kind 'comm' against 'noncomm'  NCCL kernel time with no other kernel running (exposed communication).
-- A sweep over the busy intervals (gpu_busy) of both kinds: each interval adds +1 at its start and -1 at its end to
-- its kind's counter; the time between consecutive event timestamps is busy when the kind's counter is positive and
-- overlapped when the other counter is positive too. Columns: device_id, kind, against, busy_ns, overlapped_ns,
-- exposed_ns (= busy_ns - overlapped_ns). Devices with no work of the kind have no row. No parameters.
CREATE OR REPLACE VIEW gpu_exposed AS
WITH pairs(kind, against) AS (
    VALUES ('copy', 'compute'), ('comm', 'noncomm')
),
edges AS (
    SELECT p.kind, p.against, b.device_id, b.start_ns AS ts,
           CAST(b.kind = p.kind AS INTEGER) AS d_self, CAST(b.kind = p.against AS INTEGER) AS d_other
    FROM gpu_busy b JOIN pairs p ON b.kind IN (p.kind, p.against)
    UNION ALL
    SELECT p.kind, p.against, b.device_id, b.end_ns,
           -CAST(b.kind = p.kind AS INTEGER), -CAST(b.kind = p.against AS INTEGER)
    FROM gpu_busy b JOIN pairs p ON b.kind IN (p.kind, p.against)
),
state AS (
    SELECT kind, against, device_id, ts,
           sum(d_self) OVER w AS n_self, sum(d_other) OVER w AS n_other,
           lead(ts) OVER w AS next_ts
    FROM edges
    WINDOW w AS (PARTITION BY kind, device_id ORDER BY ts ROWS UNBOUNDED PRECEDING)
),
totals AS (
    SELECT device_id, kind, any_value(against) AS against,
           coalesce(sum(next_ts - ts) FILTER (WHERE n_self > 0), 0) AS busy_ns,
           coalesce(sum(next_ts - ts) FILTER (WHERE n_self > 0 AND n_other > 0), 0) AS overlapped_ns
    FROM state
    WHERE next_ts IS NOT NULL
    GROUP BY device_id, kind
)
SELECT device_id, kind, against, busy_ns, overlapped_ns, busy_ns - overlapped_ns AS exposed_ns
FROM totals
WHERE busy_ns > 0
