-- request_tail: the slowest 1 % against the rest, and what differs between them. For TTFT and per-request
-- inter-token latency (request_gpu joined to requests), the tail is the requests at or above the metric's p99
-- (quantile_cont; at least the slowest one); for chunk gaps (request_chunks: every streamed token's wait), the
-- gaps at or above the p99 of all gaps of the joined requests. Per part: how many, the metric's mean, and the
-- suspects: queueing before prefill, prefill time, other requests' prefills during decode, requests in flight,
-- GPU busy, prompt length; for chunk gaps, the share whose wait overlapped a prefill step and the mean decode batch
-- of the steps inside them. A suspect whose mean differs most between 'tail' and 'rest' is what the tail has.
-- Grain: one row per (metric, part). No parameters.
CREATE OR REPLACE VIEW request_tail(
    -- ttft | itl | chunk_gap.
    metric,
    -- tail | rest.
    part,
    -- requests (ttft, itl) or chunk gaps (chunk_gap) in the part; the metric's p99 over all of them, ns.
    n, p99_ns,
    -- the metric's mean in the part, ns.
    mean_ns,
    -- request suspects (NULL for chunk_gap): mean queueing before prefill, prefill step time, ns; mean count of
    -- other requests' prefills in its decode; mean requests in flight; mean GPU busy share (0-100); mean prompt.
    queue_ns, prefill_ns, hol_prefills, mean_in_flight, gpu_busy_pct, input_tokens,
    -- chunk suspects (NULL for requests): share of gaps overlapping a prefill step (0-100); mean decode batch of
    -- the decode steps overlapping the gaps.
    prefill_overlap_pct, decode_batch
) AS
WITH req AS (
    SELECT g.*, r.itl_ns, r.input_tokens FROM request_gpu g JOIN requests r USING (request_id)
),
per_request AS (
    SELECT 'ttft' AS metric, ttft_ns::DOUBLE AS v, * FROM req
    UNION ALL
    SELECT 'itl', itl_ns, * FROM req WHERE itl_ns IS NOT NULL
),
req_cut AS (
    SELECT metric, quantile_cont(v, 0.99) AS p99, max(v) AS top FROM per_request GROUP BY metric
),
req_parts AS (
    SELECT p.*, c.p99, CASE WHEN p.v >= least(c.p99, c.top) THEN 'tail' ELSE 'rest' END AS part
    FROM per_request p JOIN req_cut c USING (metric)
),
gaps AS (
    SELECT c.request_id, c.ts_ns - c.latency_ns AS start_ns, c.ts_ns AS end_ns, c.latency_ns::DOUBLE AS v
    FROM request_chunks c SEMI JOIN request_gpu g ON g.request_id = c.request_id
),
gap_cut AS (SELECT quantile_cont(v, 0.99) AS p99, max(v) AS top FROM gaps),
gap_steps AS (
    SELECT g.request_id, g.start_ns, g.v,
           bool_or(s.kind IN ('prefill', 'mixed')) AS with_prefill,
           avg(s.generation_requests) FILTER (WHERE s.kind = 'decode') AS batch
    FROM gaps g
    LEFT JOIN serving_steps s ON s.start_ns < g.end_ns AND s.end_ns > g.start_ns
    GROUP BY g.request_id, g.start_ns, g.v
),
gap_parts AS (
    SELECT s.*, c.p99, CASE WHEN s.v >= least(c.p99, c.top) THEN 'tail' ELSE 'rest' END AS part
    FROM gap_steps s, gap_cut c
)
SELECT metric, part, count(*), any_value(p99), avg(v), avg(queue_ns), avg(prefill_ns), avg(hol_prefills),
       avg(mean_in_flight), avg(gpu_busy_pct), avg(input_tokens), NULL::DOUBLE, NULL::DOUBLE
FROM req_parts
GROUP BY metric, part
UNION ALL
SELECT 'chunk_gap', part, count(*), any_value(p99), avg(v), NULL, NULL, NULL, NULL, NULL, NULL,
       100.0 * avg(coalesce(with_prefill, false)::INTEGER), avg(batch)
FROM gap_parts
GROUP BY part
