-- request_concurrency: how many requests were in flight (sent, last response not yet received) over time, from the
-- `requests` table: a sweep over the completed requests' starts (+1) and ends (-1); a start and an end at the same
-- instant count the end first. Cancelled and failed requests have no end and are not counted. in_flight above the
-- engine's slot count means the rest were queued (their wait is part of their TTFT).
-- Grain: one row per maximal interval of constant in_flight (in_flight 0 between bursts included). No parameters.
CREATE OR REPLACE VIEW request_concurrency(
    -- the interval, ns on the trace timeline.
    start_ns, end_ns, dur_ns,
    -- requests in flight during it.
    in_flight
) AS
WITH edges AS (
    SELECT start_ns AS ts_ns, 1 AS delta FROM requests WHERE status = 'ok' AND start_ns IS NOT NULL
    UNION ALL
    SELECT end_ns, -1 FROM requests WHERE status = 'ok' AND end_ns IS NOT NULL
),
levels AS (
    SELECT ts_ns, sum(sum(delta)) OVER (ORDER BY ts_ns ROWS UNBOUNDED PRECEDING) AS in_flight
    FROM edges
    GROUP BY ts_ns
),
spans AS (
    SELECT ts_ns AS start_ns, lead(ts_ns) OVER (ORDER BY ts_ns) AS end_ns, in_flight FROM levels
)
SELECT start_ns, end_ns, end_ns - start_ns, in_flight
FROM spans
WHERE end_ns IS NOT NULL AND end_ns > start_ns
