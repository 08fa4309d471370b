-- request_hol: head-of-line blocking, measured on the responses: for every prefill (or mixed) serving step and
-- every request that was already decoding while it ran (first token before the step started, last response after
-- it ended), the gap between that request's response chunks around the step (the last chunk, or the first token,
-- at or before the step's start -> the first chunk at or after its end) against the request's median chunk gap.
-- stalled: the gap covered the whole prefill, i.e. the running request's next token waited for another request's
-- prefill; stall_ns = gap - median gap, the extra wait, at most the prefill's own duration (back-to-back prefills
-- share one gap; each is charged only its own time), never below 0.
-- Grain: one row per (prefill step, running request). No parameters.
CREATE OR REPLACE VIEW request_hol(
    -- the prefill step (serving_steps) and its range, ns.
    step_id, start_ns, end_ns, prefill_ns,
    -- prompt tokens the step prefilled.
    context_tokens,
    -- the running request held back, and the chunk gap around the step, ns.
    request_id, gap_ns,
    -- the request's median chunk gap (its usual inter-token latency), ns.
    median_gap_ns,
    -- gap_ns - median_gap_ns, clamped to [0, prefill_ns], ns.
    stall_ns,
    -- true when the gap covered the whole prefill step.
    stalled
) AS
WITH prefills AS (
    SELECT step_id, start_ns, end_ns, dur_ns, context_tokens FROM serving_steps WHERE kind IN ('prefill', 'mixed')
),
running AS (
    SELECT p.*, r.request_id, r.first_token_ns
    FROM prefills p
    JOIN requests r ON r.status = 'ok' AND r.first_token_ns <= p.start_ns AND r.end_ns >= p.end_ns
),
around AS (
    SELECT x.step_id, x.request_id,
           greatest(any_value(x.first_token_ns), max(c.ts_ns) FILTER (WHERE c.ts_ns <= x.start_ns)) AS before_ns,
           min(c.ts_ns) FILTER (WHERE c.ts_ns >= x.end_ns) AS after_ns
    FROM running x
    JOIN request_chunks c ON c.request_id = x.request_id
    GROUP BY x.step_id, x.request_id
),
usual AS (
    SELECT request_id, quantile_cont(latency_ns, 0.5) AS median_gap_ns FROM request_chunks GROUP BY request_id
)
SELECT x.step_id, x.start_ns, x.end_ns, x.dur_ns, x.context_tokens, x.request_id, a.after_ns - a.before_ns,
       u.median_gap_ns, least(x.dur_ns, greatest(0, a.after_ns - a.before_ns - u.median_gap_ns)), a.after_ns - a.before_ns >= x.dur_ns
FROM running x
JOIN around a USING (step_id, request_id)
JOIN usual u USING (request_id)
WHERE a.after_ns IS NOT NULL
