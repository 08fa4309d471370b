-- gpu_device_summary: one row per GPU that ran work (plus GPUs the trace describes but that ran nothing):
-- its active span (first operation start to last operation end), busy time as an interval union for all work,
-- compute (kernels), copy (memcpy + memset) and communication kernels (view comm_kernels), idle = span - busy,
-- operation counts and bytes copied, the processes that used it, and the device description when the trace has one.
-- busy_pct = busy_ns / span_ns * 100 (NULL for a device without work). No parameters.
CREATE OR REPLACE VIEW gpu_device_summary AS
WITH busy AS (
    SELECT device_id,
           CAST(sum(dur_ns) FILTER (WHERE kind = 'all') AS BIGINT) AS busy_ns,
           CAST(coalesce(sum(dur_ns) FILTER (WHERE kind = 'compute'), 0) AS BIGINT) AS compute_busy_ns,
           CAST(coalesce(sum(dur_ns) FILTER (WHERE kind = 'copy'), 0) AS BIGINT) AS copy_busy_ns,
           CAST(coalesce(sum(dur_ns) FILTER (WHERE kind = 'comm'), 0) AS BIGINT) AS comm_busy_ns
    FROM gpu_busy
    GROUP BY device_id
),
ops AS (
    SELECT device_id, min(start_ns) AS first_start_ns, max(end_ns) AS last_end_ns,
           count(*) FILTER (WHERE op_kind = 'kernel') AS kernel_count,
           count(*) FILTER (WHERE op_kind = 'memcpy') AS memcpy_count,
           count(*) FILTER (WHERE op_kind = 'memset') AS memset_count,
           CAST(coalesce(sum(bytes) FILTER (WHERE op_kind = 'memcpy'), 0) AS BIGINT) AS memcpy_bytes,
           CAST(coalesce(sum(dur_ns) FILTER (WHERE op_kind = 'kernel'), 0) AS BIGINT) AS kernel_time_ns,
           list(DISTINCT pid ORDER BY pid) AS pids
    FROM gpu_ops
    GROUP BY device_id
),
described AS (
    SELECT device_id, any_value(name) AS name, any_value(sm_count) AS sm_count,
           any_value(compute_major) AS compute_major, any_value(compute_minor) AS compute_minor
    FROM devices
    GROUP BY device_id
)
SELECT coalesce(o.device_id, d.device_id) AS device_id, d.name, d.sm_count, d.compute_major, d.compute_minor,
       o.first_start_ns, o.last_end_ns, o.last_end_ns - o.first_start_ns AS span_ns,
       b.busy_ns, b.compute_busy_ns, b.copy_busy_ns, b.comm_busy_ns,
       o.last_end_ns - o.first_start_ns - b.busy_ns AS idle_ns,
       CASE WHEN o.last_end_ns > o.first_start_ns
            THEN b.busy_ns * 100.0 / (o.last_end_ns - o.first_start_ns) END AS busy_pct,
       coalesce(o.kernel_count, 0) AS kernel_count, coalesce(o.memcpy_count, 0) AS memcpy_count,
       coalesce(o.memset_count, 0) AS memset_count, coalesce(o.memcpy_bytes, 0) AS memcpy_bytes,
       coalesce(o.kernel_time_ns, 0) AS kernel_time_ns, o.pids
FROM ops o
LEFT JOIN busy b USING (device_id)
FULL JOIN described d USING (device_id)
