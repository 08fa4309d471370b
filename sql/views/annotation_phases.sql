-- annotation_phases: the scope names users gave (prefill, decode, tokenize, ...) summarised: how often, how
-- long (total and percentiles), tokens per second and GPU time. Grain: one row per scope name. No parameters.
CREATE OR REPLACE VIEW annotation_phases(
    -- the scope name.
    phase,
    -- number of ranges, and processes they came from.
    ranges, processes,
    -- summed, mean, median, 90th and 99th percentile duration, ns.
    total_ns, mean_ns, p50_ns, p90_ns, p99_ns,
    -- distinct request ids named.
    requests,
    -- tokens summed over the ranges, and per second of range time.
    tokens, tokens_per_s,
    -- kernels launched inside the ranges and their GPU time, ns.
    kernels, gpu_ns
) AS
WITH reqs AS (
    SELECT name, count(DISTINCT request) AS requests
    FROM (SELECT name, unnest(requests) AS request FROM annotation_ranges)
    GROUP BY name
)
SELECT r.name, count(*), count(DISTINCT r.pid), sum(r.dur_ns), avg(r.dur_ns),
       quantile_cont(r.dur_ns, 0.5), quantile_cont(r.dur_ns, 0.9), quantile_cont(r.dur_ns, 0.99),
       coalesce(any_value(q.requests), 0),
       sum(r.tokens), sum(r.tokens) * 1e9 / nullif(sum(r.dur_ns) FILTER (WHERE r.tokens IS NOT NULL), 0),
       sum(r.kernels), sum(r.gpu_ns)
FROM annotation_ranges r
LEFT JOIN reqs q USING (name)
GROUP BY r.name
