-- sync_stalls: GPU idle time exposed by each host wait (sync_calls), per device the waiting process used.
-- While the host is blocked it cannot queue work; when the GPU drains before the wait returns, the device stays idle
-- until the host queues the next operation. A wait is charged for the idle gap that contains its end: the part of
-- the gap during which it was waiting (from the later of the gap start, its own start and the previous such wait's
-- end), and, for the last wait to return in the gap, the rest of the gap after it returned. The waits of one gap
-- therefore never add up to more than the gap. Waits that return while the device is still busy expose nothing and
-- have no row. A CUPTI record naming a device only counts on that device. Columns: sync_calls columns, device_id,
-- gap_id, gap_start_ns, gap_end_ns, exposed_idle_ns. No parameters.
CREATE OR REPLACE VIEW sync_stalls AS
WITH pid_devices AS (
    SELECT DISTINCT pid, device_id FROM gpu_ops
),
per_device AS (
    SELECT s.*, d.device_id
    FROM sync_calls s
    JOIN pid_devices d ON d.pid = s.pid
    WHERE s.sync_device_id IS NULL OR s.sync_device_id = d.device_id
),
in_gap AS (
    SELECT p.*, g.gap_id, g.start_ns AS gap_start_ns, g.end_ns AS gap_end_ns,
           lag(p.end_ns) OVER w AS prev_end_ns, lead(p.end_ns) OVER w IS NULL AS last_in_gap
    FROM per_device p
    ASOF JOIN gpu_idle_gaps g ON g.device_id = p.device_id AND g.start_ns <= p.end_ns
    WHERE g.end_ns > p.end_ns
    WINDOW w AS (PARTITION BY g.gap_id ORDER BY p.end_ns, p.sync_id)
)
SELECT * EXCLUDE (prev_end_ns, last_in_gap),
       greatest(CASE WHEN last_in_gap THEN gap_end_ns ELSE end_ns END
                - greatest(gap_start_ns, start_ns, coalesce(prev_end_ns, gap_start_ns)), 0) AS exposed_idle_ns
FROM in_gap
