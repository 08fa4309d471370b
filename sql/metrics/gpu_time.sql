-- about: GPU busy and idle time from the interval union of GPU work (views gpu_busy, gpu_device_summary): per
--   device, and summed over devices for the trace. Concurrent streams never count twice; a device's active span
--   runs from its first operation start to its last operation end.
-- metric gpu_span_ns: ns, none, trace
--   Time from the first GPU operation start to the last GPU operation end, over all devices.
-- metric gpu_busy_ns: ns, none, trace
--   Busy time (at least one GPU operation running), summed over devices.
-- metric gpu_idle_ns: ns, lower, trace
--   Idle time inside each device's active span, summed over devices.
-- metric gpu_busy_pct: pct, higher, trace
--   Summed busy time / summed device active spans * 100.
-- metric compute_busy_pct: pct, higher, trace
--   Summed kernel busy time (union per device) / summed device active spans * 100.
-- metric copy_busy_pct: pct, none, trace
--   Summed memcpy + memset busy time (union per device) / summed device active spans * 100.
-- metric device_count: count, none, trace
--   GPUs that ran at least one operation.
-- metric device_span_ns: ns, none, device
--   The device's active span.
-- metric device_busy_ns: ns, none, device
--   Time in the device's span with at least one operation running.
-- metric device_busy_pct: pct, higher, device
--   device_busy_ns / device_span_ns * 100.
-- metric device_compute_busy_ns: ns, none, device
--   Time with at least one kernel running on the device.
-- metric device_copy_busy_ns: ns, lower, device
--   Time with at least one memcpy or memset running on the device.
-- metric device_idle_ns: ns, lower, device
--   device_span_ns - device_busy_ns.
WITH d AS (
    SELECT * FROM gpu_device_summary WHERE span_ns IS NOT NULL
),
t AS (
    SELECT max(last_end_ns) - min(first_start_ns) AS span_ns, sum(busy_ns) AS busy_ns, sum(idle_ns) AS idle_ns,
           sum(span_ns) AS spans_ns, sum(compute_busy_ns) AS compute_ns, sum(copy_busy_ns) AS copy_ns,
           count(*) AS devices
    FROM d
)
SELECT 'gpu_span_ns' AS id, CAST(span_ns AS DOUBLE) AS value, CAST(NULL AS BIGINT) AS device_id FROM t
UNION ALL SELECT 'gpu_busy_ns', busy_ns, NULL FROM t
UNION ALL SELECT 'gpu_idle_ns', idle_ns, NULL FROM t
UNION ALL SELECT 'gpu_busy_pct', busy_ns * 100.0 / nullif(spans_ns, 0), NULL FROM t
UNION ALL SELECT 'compute_busy_pct', compute_ns * 100.0 / nullif(spans_ns, 0), NULL FROM t
UNION ALL SELECT 'copy_busy_pct', copy_ns * 100.0 / nullif(spans_ns, 0), NULL FROM t
UNION ALL SELECT 'device_count', devices, NULL FROM t
UNION ALL SELECT 'device_span_ns', span_ns, device_id FROM d
UNION ALL SELECT 'device_busy_ns', busy_ns, device_id FROM d
UNION ALL SELECT 'device_busy_pct', busy_pct, device_id FROM d
UNION ALL SELECT 'device_compute_busy_ns', compute_busy_ns, device_id FROM d
UNION ALL SELECT 'device_copy_busy_ns', copy_busy_ns, device_id FROM d
UNION ALL SELECT 'device_idle_ns', idle_ns, device_id FROM d
