-- annotation_requests: one row per request named by scope()/mark_event() attributes (`request=` or
-- `requests=[...]`): when it started and ended, time to first token and time per output token when the
-- annotations say so, and its share of tokens and GPU time. Conventions (docs/annotations.md): a range named
-- prefill*/decode* (any case) is that phase; a mark named first_token gives the first-token time; the first
-- token comes from prefill, so TPOT = (end - first token) / decode tokens. GPU time of a kernel claimed by
-- several requests (batched step) is split evenly. Grain: one row per (pid, request). No parameters.
CREATE OR REPLACE VIEW annotation_requests(
    -- process that served the request.
    pid,
    -- request id (string).
    request,
    -- first range start or mark naming the request, ns.
    start_ns,
    -- last range end or mark naming the request, ns.
    end_ns,
    -- end_ns - start_ns, ns.
    e2e_ns,
    -- ranges and distinct scope names that name the request.
    ranges, phases,
    -- time in prefill*/decode* ranges naming the request (residence time), ns.
    prefill_ns, decode_ns,
    -- tokens of prefill*/decode* ranges attributed to the request; all tokens attributed to it.
    prefill_tokens, decode_tokens, tokens,
    -- first `first_token` mark of the request and its time from start_ns, ns.
    first_token_ns, ttft_ns,
    -- time per output token after the first: (end_ns - first_token_ns) / decode_tokens, ns.
    tpot_ns,
    -- the request's share of GPU kernel time launched inside its ranges, ns.
    gpu_ns
) AS
WITH claims AS (
    SELECT r.range_id, r.pid, r.tid, r.start_ns, r.end_ns, r.dur_ns, r.name, r.tokens,
           unnest(r.requests) AS request, len(r.requests) AS sharing
    FROM annotation_ranges r
    WHERE len(r.requests) > 0
),
marks AS (
    SELECT m.pid, m.ts_ns, m.name, unnest(m.requests) AS request FROM annotation_marks m WHERE len(m.requests) > 0
),
per_range AS (
    SELECT pid, request, min(start_ns) AS start_ns, max(end_ns) AS end_ns, count(*) AS ranges,
           count(DISTINCT name) AS phases,
           sum(dur_ns) FILTER (WHERE regexp_matches(name, '(?i)^prefill')) AS prefill_ns,
           sum(dur_ns) FILTER (WHERE regexp_matches(name, '(?i)^decode')) AS decode_ns,
           sum(tokens / sharing) FILTER (WHERE regexp_matches(name, '(?i)^prefill')) AS prefill_tokens,
           sum(tokens / sharing) FILTER (WHERE regexp_matches(name, '(?i)^decode')) AS decode_tokens,
           sum(tokens / sharing) AS tokens
    FROM claims
    GROUP BY pid, request
),
per_mark AS (
    SELECT pid, request, min(ts_ns) AS first_ns, max(ts_ns) AS last_ns,
           min(ts_ns) FILTER (WHERE name = 'first_token') AS first_token_ns
    FROM marks
    GROUP BY pid, request
),
gpu AS (
    SELECT pid, request, sum(kernel_dur_ns / claimants) AS gpu_ns
    FROM (SELECT *, count(*) OVER (PARTITION BY kernel_start_ns, device_id, stream_id) AS claimants
          FROM (SELECT DISTINCT c.pid, c.request, l.kernel_start_ns, l.device_id, l.stream_id, l.kernel_dur_ns
                FROM claims c
                JOIN cuda_launches l
                  ON l.api_pid = c.pid AND l.api_tid = c.tid AND l.op_kind = 'kernel'
                 AND l.api_start_ns >= c.start_ns AND l.api_start_ns < c.end_ns))
    GROUP BY ALL
),
joined AS (
    SELECT coalesce(r.pid, m.pid) AS pid, coalesce(r.request, m.request) AS request,
           least(r.start_ns, m.first_ns) AS start_ns, greatest(r.end_ns, m.last_ns) AS end_ns,
           coalesce(r.ranges, 0) AS ranges, coalesce(r.phases, 0) AS phases,
           r.prefill_ns, r.decode_ns, r.prefill_tokens, r.decode_tokens, r.tokens, m.first_token_ns
    FROM per_range r
    FULL JOIN per_mark m ON m.pid = r.pid AND m.request = r.request
)
SELECT j.pid, j.request, j.start_ns, j.end_ns, j.end_ns - j.start_ns, j.ranges, j.phases,
       j.prefill_ns, j.decode_ns, j.prefill_tokens, j.decode_tokens, j.tokens,
       j.first_token_ns, j.first_token_ns - j.start_ns,
       CASE WHEN j.decode_tokens > 0 AND j.first_token_ns IS NOT NULL
            THEN (j.end_ns - j.first_token_ns) / j.decode_tokens END,
       coalesce(g.gpu_ns, 0)
FROM joined j
LEFT JOIN gpu g USING (pid, request)
