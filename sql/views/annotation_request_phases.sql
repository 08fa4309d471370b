-- annotation_request_phases: for each request, the time it spent in each named scope. A range that names
-- several requests (a batched decode step) counts its full duration for each of them (residence time, not an
-- exclusive share) and splits its `tokens` evenly among them; GPU time of a kernel claimed by several requests
-- is split evenly among them. Grain: one row per (pid, request, scope name). No parameters.
CREATE OR REPLACE VIEW annotation_request_phases(
    -- process of the ranges.
    pid,
    -- request id (string).
    request,
    -- the scope name (prefill, decode, ...).
    phase,
    -- ranges of this name that name the request.
    ranges,
    -- their summed duration, ns.
    total_ns,
    -- first start and last end among them, ns.
    first_start_ns, last_end_ns,
    -- tokens attributed to the request (a shared range's tokens split evenly).
    tokens,
    -- GPU kernel time launched inside those ranges, the request's share, ns.
    gpu_ns
) AS
WITH claims AS (
    SELECT r.range_id, r.pid, r.tid, r.start_ns, r.end_ns, r.dur_ns, r.name, r.tokens,
           unnest(r.requests) AS request, len(r.requests) AS sharing
    FROM annotation_ranges r
    WHERE len(r.requests) > 0
),
kernel_claims AS (
    SELECT DISTINCT c.pid, c.request, c.name, l.kernel_start_ns, l.device_id, l.stream_id, l.kernel_dur_ns
    FROM claims c
    JOIN cuda_launches l
      ON l.api_pid = c.pid AND l.api_tid = c.tid AND l.op_kind = 'kernel'
     AND l.api_start_ns >= c.start_ns AND l.api_start_ns < c.end_ns
),
gpu AS (
    SELECT pid, request, name, sum(kernel_dur_ns / claimants) AS gpu_ns
    FROM (SELECT *, count(*) OVER (PARTITION BY name, kernel_start_ns, device_id, stream_id) AS claimants
          FROM kernel_claims)
    GROUP BY ALL
)
SELECT c.pid, c.request, c.name, count(*), sum(c.dur_ns), min(c.start_ns), max(c.end_ns),
       sum(c.tokens / c.sharing), coalesce(any_value(g.gpu_ns), 0)
FROM claims c
LEFT JOIN gpu g USING (pid, request, name)
GROUP BY c.pid, c.request, c.name
