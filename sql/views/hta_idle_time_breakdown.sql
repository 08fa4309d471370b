-- hta_idle_time_breakdown: GPU idle time per stream split by cause, as HTA's get_idle_time_breakdown: each gap
-- between consecutive operations on a stream is host_wait when the operation's launch call started after the
-- previous operation ended (the CPU was not enqueuing fast enough), else kernel_wait when the gap is shorter
-- than the launch-overhead threshold (back-to-back kernels; CUDA graphs help), else other (waiting on events,
-- other streams, ...). idle_ratio is the category's share of the stream's idle time.
-- Parameters: hta_kernel_wait_ns = 30000 (HTA's consecutive_kernel_delay = 30 µs).
-- Columns: device_id, stream_id, idle_category, idle_ns, gaps, idle_ratio.
-- Requires: hta_gpu_ops, api_calls.
CREATE OR REPLACE VIEW hta_idle_time_breakdown AS
WITH calls AS (
    SELECT pid, correlation_id, min(start_ns) AS api_start_ns FROM api_calls GROUP BY pid, correlation_id
),
ops AS (
    SELECT o.device_id, o.stream_id, o.start_ns, o.end_ns, c.api_start_ns
    FROM hta_gpu_ops o LEFT JOIN calls c ON c.pid = o.pid AND c.correlation_id = o.correlation_id
),
gaps AS (
    SELECT *, lag(end_ns) OVER w AS prev_end_ns, start_ns - lag(end_ns) OVER w AS idle_ns
    FROM ops
    WINDOW w AS (PARTITION BY device_id, stream_id ORDER BY start_ns, end_ns)
),
classified AS (
    SELECT device_id, stream_id, idle_ns,
           CASE WHEN api_start_ns > prev_end_ns THEN 'host_wait'
                WHEN idle_ns < coalesce(getvariable('hta_kernel_wait_ns'), 30000) THEN 'kernel_wait'
                ELSE 'other' END AS idle_category
    FROM gaps
    WHERE prev_end_ns IS NOT NULL
)
SELECT device_id, stream_id, idle_category, CAST(sum(idle_ns) AS BIGINT) AS idle_ns, count(*) AS gaps,
       sum(idle_ns) / nullif(sum(sum(idle_ns)) OVER (PARTITION BY device_id, stream_id), 0) AS idle_ratio
FROM classified
GROUP BY device_id, stream_id, idle_category
