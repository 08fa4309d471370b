-- serving_summary: the serving run against the GPU in one row: how much of the GPU span had requests in flight,
-- the most in flight at once against the engine's batch slots (the largest decode batch the steps show), the
-- scheduler steps by kind with their GPU busy share, how long requests queued before their prefill, and how often
-- a prefill held back requests that were decoding (request_hol). gpu_span is the trace's first GPU operation to
-- its last; step_span the first serving step's start to the last one's end (the serving loop alone, when the trace
-- also holds set-up or other work). Grain: one row (NULLs where the trace has no steps or no requests).
-- No parameters.
CREATE OR REPLACE VIEW serving_summary(
    -- requests: all, completed, cancelled or failed, and completed ones inside or across the trace's span.
    requests, completed, not_completed, joined,
    -- first GPU operation -> last, ns; the share of it with at least one request in flight (0-100).
    gpu_span_ns, in_flight_gpu_span_pct,
    -- first serving step's start -> last step's end, ns; the share of it with a request in flight (0-100).
    step_span_ns, in_flight_step_span_pct,
    -- most requests in flight at once; the largest decode batch seen (the engine's slots, as far as the steps show).
    max_in_flight, slots_seen,
    -- serving steps by kind, their time, ns, and GPU busy share of that time (0-100).
    prefill_steps, prefill_ns, prefill_gpu_busy_pct, decode_steps, decode_ns, decode_gpu_busy_pct,
    -- median and max time from a request's start to its prefill step (queueing for a slot and the scheduler), ns.
    queue_p50_ns, queue_max_ns,
    -- share of TTFT spent queueing, over all joined requests (0-100).
    queue_ttft_pct,
    -- prefill steps that ran while requests were decoding; of those (prefill, running request) pairs, the share
    -- whose next token waited the whole prefill (0-100); the extra wait they caused, summed, ns.
    hol_prefills, hol_stalled_pct, hol_stall_ns
) AS
WITH gpu AS (SELECT min(start_ns) AS lo, max(end_ns) AS hi FROM gpu_ops),
st AS (SELECT min(start_ns) AS lo, max(end_ns) AS hi FROM serving_steps),
cover AS (
    SELECT sum(greatest(0, least(c.end_ns, g.hi) - greatest(c.start_ns, g.lo))) AS gpu_ns,
           sum(greatest(0, least(c.end_ns, s.hi) - greatest(c.start_ns, s.lo))) AS step_ns,
           max(c.in_flight) AS max_in_flight
    FROM request_concurrency c, gpu g, st s
    WHERE c.in_flight > 0
),
kinds AS (
    SELECT count(*) FILTER (WHERE kind IN ('prefill', 'mixed')) AS prefill_steps,
           sum(dur_ns) FILTER (WHERE kind IN ('prefill', 'mixed')) AS prefill_ns,
           100.0 * sum(gpu_busy_ns) FILTER (WHERE kind IN ('prefill', 'mixed'))
               / sum(dur_ns) FILTER (WHERE kind IN ('prefill', 'mixed')) AS prefill_busy,
           count(*) FILTER (WHERE kind = 'decode') AS decode_steps,
           sum(dur_ns) FILTER (WHERE kind = 'decode') AS decode_ns,
           100.0 * sum(gpu_busy_ns) FILTER (WHERE kind = 'decode') / sum(dur_ns) FILTER (WHERE kind = 'decode')
               AS decode_busy,
           max(generation_requests) AS slots_seen
    FROM serving_steps
),
joined AS (
    SELECT count(*) AS n, quantile_cont(queue_ns, 0.5) AS q50, max(queue_ns) AS qmax,
           100.0 * sum(queue_ns) / sum(ttft_ns) FILTER (WHERE queue_ns IS NOT NULL) AS queue_pct
    FROM request_gpu
),
hol AS (
    SELECT count(DISTINCT step_id) AS prefills, 100.0 * avg(stalled::INTEGER) AS stalled_pct,
           sum(stall_ns) AS stall_ns
    FROM request_hol
),
reqs AS (
    SELECT count(*) AS n, count(*) FILTER (WHERE status = 'ok') AS ok FROM requests
)
SELECT r.n, r.ok, r.n - r.ok, j.n,
       g.hi - g.lo, 100.0 * c.gpu_ns / nullif(g.hi - g.lo, 0),
       s.hi - s.lo, 100.0 * c.step_ns / nullif(s.hi - s.lo, 0),
       c.max_in_flight, k.slots_seen,
       k.prefill_steps, k.prefill_ns, k.prefill_busy, k.decode_steps, k.decode_ns, k.decode_busy,
       j.q50, j.qmax, j.queue_pct,
       h.prefills, h.stalled_pct, h.stall_ns
FROM reqs r, gpu g, st s, cover c, kinds k, joined j, hol h
