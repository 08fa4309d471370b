-- sync_stalls: GPU idle time exposed by each host wait (sync_calls), per device the waiting process used.
-- While the host is blocked it cannot queue work; when the GPU drains before the wait returns, the device stays idle
-- until the host queues the next operation. The exposed idle of a wait on a device is therefore the idle gap that
-- contains the wait's end, counted from the later of the gap start and the wait start to the gap end. Waits that
-- return while the device is still busy expose nothing and have no row. A CUPTI record naming a device only
-- counts on that device. Columns: sync_calls columns, device_id, gap_id, gap_start_ns, gap_end_ns,
-- exposed_idle_ns. No parameters.
CREATE OR REPLACE VIEW sync_stalls AS
WITH pid_devices AS (
    SELECT DISTINCT pid, device_id FROM gpu_ops
),
per_device AS (
    SELECT s.*, d.device_id
    FROM sync_calls s
    JOIN pid_devices d ON d.pid = s.pid
    WHERE s.sync_device_id IS NULL OR s.sync_device_id = d.device_id
)
SELECT p.*, g.gap_id, g.start_ns AS gap_start_ns, g.end_ns AS gap_end_ns,
       g.end_ns - greatest(g.start_ns, p.start_ns) AS exposed_idle_ns
FROM per_device p
ASOF JOIN gpu_idle_gaps g ON g.device_id = p.device_id AND g.start_ns <= p.end_ns
WHERE g.end_ns > p.end_ns
