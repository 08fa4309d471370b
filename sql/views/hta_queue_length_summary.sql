-- hta_queue_length_summary: per stream, statistics of the queue length series: over its change points (count,
-- mean, min, quartiles, max: what HTA's get_queue_length_summary describes), the time-weighted mean (each value
-- weighted by how long it held), and the time spent at or above the launch queue's capacity, when the CPU
-- blocks on launches.
-- Parameters: hta_max_queue_length = 1024 (HTA's constant).
-- Columns: device_id, stream_id, points, mean, min, p25, p50, p75, max, time_weighted_mean, full_queue_ns.
-- Requires: hta_queue_length.
CREATE OR REPLACE VIEW hta_queue_length_summary AS
WITH held AS (
    SELECT *, lead(ts_ns) OVER (PARTITION BY device_id, stream_id ORDER BY ts_ns, queue_length) - ts_ns AS hold_ns
    FROM hta_queue_length
)
SELECT device_id, stream_id, count(*) AS points, avg(queue_length) AS mean, min(queue_length) AS min,
       quantile_cont(queue_length, 0.25) AS p25, quantile_cont(queue_length, 0.5) AS p50,
       quantile_cont(queue_length, 0.75) AS p75, max(queue_length) AS max,
       sum(queue_length * hold_ns) / nullif(sum(hold_ns), 0) AS time_weighted_mean,
       CAST(coalesce(sum(hold_ns) FILTER (WHERE queue_length >= coalesce(getvariable('hta_max_queue_length'), 1024)),
                     0) AS BIGINT) AS full_queue_ns
FROM held
GROUP BY device_id, stream_id
