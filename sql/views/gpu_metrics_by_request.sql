-- gpu_metrics_by_request: time-weighted GPU metrics while each serving request was in flight (serving_requests:
-- the load generator's records attached to the trace and the requests the program's annotations name), over its
-- whole life and split at its first token: before it (queueing and prefill) and after it (decode). On every GPU
-- that has metrics; the counters are device-wide, so they describe the whole batch the request shared the GPU
-- with, not the request alone. A part shorter than the sampling period gets the enclosing sample(s) (below_period).
-- Grain: one row per (source, request_id, part, device_id, metric_id); part is in_flight, to_first_token or
-- after_first_token (the last two only when the first token time is known). Columns: source, request_id, part,
-- device_id, metric_id, unit, start_ns, end_ns, mean_value, covered_ns, coverage, samples, period_ns,
-- below_period. No parameters.
CREATE OR REPLACE VIEW gpu_metrics_by_request AS
WITH r AS (
    SELECT source, request_id, start_ns, first_token_ns, end_ns
    FROM serving_requests
    WHERE start_ns IS NOT NULL AND end_ns > start_ns
),
windows AS (
    SELECT row_number() OVER (ORDER BY source, request_id, part) AS interval_id, CAST(NULL AS BIGINT) AS device_id, *
    FROM (
        SELECT source, request_id, 'in_flight' AS part, start_ns, end_ns FROM r
        UNION ALL
        SELECT source, request_id, 'to_first_token', start_ns, first_token_ns FROM r
        WHERE first_token_ns BETWEEN start_ns AND end_ns
        UNION ALL
        SELECT source, request_id, 'after_first_token', first_token_ns, end_ns FROM r
        WHERE first_token_ns BETWEEN start_ns AND end_ns
    )
)
SELECT source, request_id, part, device_id, metric_id, unit, start_ns, end_ns, mean_value, covered_ns, coverage,
       samples, period_ns, below_period
FROM gpu_metrics_during(windows)
