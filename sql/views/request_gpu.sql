-- request_gpu: per request, what the GPU and the serving engine did while it was in flight (the join of the load
-- generator's requests to the trace). For each completed request inside or across the trace's span:
-- * its prefill: the latest prefill/mixed step (serving_steps) that started after the request was sent and ended
--   by its first token (the engine prefills before it can answer), both within the alignment's uncertainty
--   (trace_meta requests.offset_uncertainty_ns, 0 when absent); queue_ns = that step's start - the request's
--   start (waiting for a slot and for the scheduler; it includes the request-to-first-GPU-work lag), ttft_ns =
--   queue_ns + prefill_ns + first_token_lag_ns (after the step ended: sampling, detokenising, the response);
-- * steps overlapped (any kind) and decode steps overlapped between its first token and its end, with the batch
--   size (generation requests) those decode steps ran;
-- * GPU busy while in flight (interval union, the busiest device) and during its decode;
-- * concurrency: requests in flight (request_concurrency), time-weighted mean and max over its life;
-- * head-of-line blocking: other requests' prefill steps that ran inside its decode (first token -> end), their
--   number and time: every such step holds back its next token.
-- Steps come from annotations in vLLM's step naming; without them the step columns are NULL (0 counts).
-- Grain: one row per completed request with start and end on the trace clock. No parameters.
CREATE OR REPLACE VIEW request_gpu(
    request_id,
    -- on the trace clock, ns.
    start_ns, first_token_ns, end_ns,
    -- as the load generator measured them, ns.
    ttft_ns, e2e_ns,
    -- first token -> last response, ns.
    decode_ns,
    -- its prefill step (serving_steps.step_id) and that step's range, ns.
    prefill_step_id, prefill_start_ns, prefill_ns,
    -- request start -> its prefill step's start, ns (queueing for a slot + scheduling + alignment lag).
    queue_ns,
    -- its prefill step's end -> its first token, ns.
    first_token_lag_ns,
    -- serving steps overlapping the request; decode steps overlapping its decode; their batch size, mean and max.
    steps, decode_steps, mean_batch, max_batch,
    -- GPU busy while in flight, ns and share (0-100); GPU busy share during its decode (0-100).
    gpu_busy_ns, gpu_busy_pct, decode_gpu_busy_pct,
    -- requests in flight during its life: time-weighted mean and maximum (itself included).
    mean_in_flight, max_in_flight,
    -- other requests' prefill steps inside its decode, and their time clipped to it, ns.
    hol_prefills, hol_ns,
    -- where it lies against the trace's span (requests.placement).
    placement
) AS
WITH req AS (
    SELECT request_id, start_ns, first_token_ns, end_ns, ttft_ns, dur_ns AS e2e_ns, placement
    FROM requests
    WHERE status = 'ok' AND start_ns IS NOT NULL AND end_ns IS NOT NULL AND placement IN ('inside', 'partial')
),
slack AS (
    SELECT coalesce(max(TRY_CAST(value AS BIGINT)), 0) AS ns FROM trace_meta WHERE key = 'requests.offset_uncertainty_ns'
),
own_prefill AS (
    SELECT r.request_id, arg_max(s.step_id, s.end_ns) AS step_id
    FROM req r
    CROSS JOIN slack u
    JOIN serving_steps s ON s.kind IN ('prefill', 'mixed') AND s.start_ns >= r.start_ns - u.ns
                        AND s.end_ns <= r.first_token_ns + u.ns
    GROUP BY r.request_id
),
overlapped AS (
    SELECT r.request_id, count(*) AS steps,
           count(*) FILTER (WHERE s.kind IN ('decode', 'mixed') AND s.start_ns < r.end_ns
                                  AND s.end_ns > r.first_token_ns) AS decode_steps,
           avg(s.generation_requests) FILTER (WHERE s.kind IN ('decode', 'mixed') AND s.start_ns < r.end_ns
                                                    AND s.end_ns > r.first_token_ns) AS mean_batch,
           max(s.generation_requests) FILTER (WHERE s.kind IN ('decode', 'mixed') AND s.start_ns < r.end_ns
                                                    AND s.end_ns > r.first_token_ns) AS max_batch
    FROM req r
    JOIN serving_steps s ON s.start_ns < r.end_ns AND s.end_ns > r.start_ns
    GROUP BY r.request_id
),
hol AS (
    SELECT r.request_id, count(*) AS hol_prefills,
           sum(least(s.end_ns, r.end_ns) - greatest(s.start_ns, r.first_token_ns)) AS hol_ns
    FROM req r
    JOIN serving_steps s ON s.kind IN ('prefill', 'mixed') AND s.start_ns < r.end_ns
                        AND s.end_ns > r.first_token_ns
    GROUP BY r.request_id
),
busy AS (
    SELECT request_id, max(busy_ns) AS busy_ns, max(decode_busy_ns) AS decode_busy_ns
    FROM (
        SELECT r.request_id, b.device_id,
               sum(least(b.end_ns, r.end_ns) - greatest(b.start_ns, r.start_ns)) AS busy_ns,
               sum(greatest(0, least(b.end_ns, r.end_ns) - greatest(b.start_ns, r.first_token_ns))) AS decode_busy_ns
        FROM req r
        JOIN gpu_busy b ON b.kind = 'all' AND b.start_ns < r.end_ns AND b.end_ns > r.start_ns
        GROUP BY r.request_id, b.device_id
    )
    GROUP BY request_id
),
conc AS (
    SELECT r.request_id,
           sum(c.in_flight * (least(c.end_ns, r.end_ns) - greatest(c.start_ns, r.start_ns)))
               / (r.end_ns - r.start_ns) AS mean_in_flight,
           max(c.in_flight) AS max_in_flight
    FROM req r
    JOIN request_concurrency c ON c.start_ns < r.end_ns AND c.end_ns > r.start_ns
    GROUP BY r.request_id, r.start_ns, r.end_ns
)
SELECT r.request_id, r.start_ns, r.first_token_ns, r.end_ns, r.ttft_ns, r.e2e_ns, r.end_ns - r.first_token_ns,
       p.step_id, s.start_ns, s.dur_ns, s.start_ns - r.start_ns, r.first_token_ns - s.end_ns,
       coalesce(o.steps, 0), coalesce(o.decode_steps, 0), o.mean_batch, o.max_batch,
       coalesce(b.busy_ns, 0), 100.0 * coalesce(b.busy_ns, 0) / nullif(r.e2e_ns, 0),
       100.0 * b.decode_busy_ns / nullif(r.end_ns - r.first_token_ns, 0),
       c.mean_in_flight, c.max_in_flight,
       coalesce(h.hol_prefills, 0), coalesce(h.hol_ns, 0), r.placement
FROM req r
LEFT JOIN own_prefill p USING (request_id)
LEFT JOIN serving_steps s ON s.step_id = p.step_id
LEFT JOIN overlapped o USING (request_id)
LEFT JOIN hol h USING (request_id)
LEFT JOIN busy b USING (request_id)
LEFT JOIN conc c USING (request_id)
