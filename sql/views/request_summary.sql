-- request_summary: the load generator's run summary recomputed from the `requests` and `request_chunks` tables,
-- the way AIPerf computes profile_export_aiperf.json: per metric over the requests that completed (status 'ok';
-- cancelled and failed requests are counted in error_request_count only), avg / min / max / std (population,
-- numpy's np.std) and p1..p99 by linear interpolation between closest ranks (numpy's default percentile, which is
-- DuckDB's quantile_cont). Statistics are taken on integer ns and scaled to the display unit afterwards, as AIPerf
-- does. inter_chunk_latency pools every chunk gap of every request; inter_token_latency is per request
-- ((latency - ttft) / (output tokens - 1)). Run-level rows (request_count, error_request_count,
-- benchmark_duration = last response - first request, request_throughput, output_token_throughput, total_osl,
-- total_isl, total_output_tokens, total_reasoning_tokens, min_request_timestamp / max_response_timestamp in UTC
-- ns) carry their value in avg with count 1, like AIPerf's.
-- Grain: one row per metric tag. No parameters.
CREATE OR REPLACE VIEW request_summary(
    -- AIPerf's metric tag (ttft, request_latency, inter_chunk_latency, ...).
    tag,
    -- display unit: ms, tokens, tokens/sec/user, requests, sec, requests/sec, tokens/sec.
    unit,
    -- statistics in the display unit; p* and std NULL for run-level rows.
    avg, min, max, p1, p5, p25, p50, p75, p90, p95, p99, std,
    -- values summarised (1 for run-level rows).
    count
) AS
WITH ok AS (SELECT * FROM requests WHERE status = 'ok'),
vals AS (
    SELECT 'ttft' AS tag, 'ms' AS unit, 1e-6 AS scale, ttft_ns::DOUBLE AS v FROM ok
    UNION ALL SELECT 'ttst', 'ms', 1e-6, ttst_ns FROM ok WHERE ttst_ns IS NOT NULL
    UNION ALL SELECT 'request_latency', 'ms', 1e-6, dur_ns FROM ok
    UNION ALL SELECT 'inter_token_latency', 'ms', 1e-6, itl_ns FROM ok WHERE itl_ns IS NOT NULL
    UNION ALL SELECT 'output_token_throughput_per_user', 'tokens/sec/user', 1.0, 1e9 / itl_ns FROM ok WHERE itl_ns > 0
    UNION ALL SELECT 'output_sequence_length', 'tokens', 1.0, output_tokens FROM ok WHERE output_tokens IS NOT NULL
    UNION ALL SELECT 'input_sequence_length', 'tokens', 1.0, input_tokens FROM ok WHERE input_tokens IS NOT NULL
    UNION ALL SELECT 'reasoning_token_count', 'tokens', 1.0, reasoning_tokens FROM ok WHERE reasoning_tokens IS NOT NULL
    -- the answer's tokens without the reasoning; AIPerf records none (and counts none) when there are none
    UNION ALL
    SELECT 'output_token_count', 'tokens', 1.0, output_tokens - reasoning_tokens
    FROM ok WHERE output_tokens - reasoning_tokens > 0
    UNION ALL
    SELECT 'inter_chunk_latency', 'ms', 1e-6, c.latency_ns
    FROM request_chunks c SEMI JOIN ok ON ok.request_id = c.request_id
),
stats AS (
    SELECT tag, any_value(unit) AS unit, avg(v) * any_value(scale) AS avg, min(v) * any_value(scale) AS min,
           max(v) * any_value(scale) AS max, quantile_cont(v, 0.01) * any_value(scale) AS p1,
           quantile_cont(v, 0.05) * any_value(scale) AS p5, quantile_cont(v, 0.25) * any_value(scale) AS p25,
           quantile_cont(v, 0.50) * any_value(scale) AS p50, quantile_cont(v, 0.75) * any_value(scale) AS p75,
           quantile_cont(v, 0.90) * any_value(scale) AS p90, quantile_cont(v, 0.95) * any_value(scale) AS p95,
           quantile_cont(v, 0.99) * any_value(scale) AS p99, stddev_pop(v) * any_value(scale) AS std,
           count(*) AS count
    FROM vals
    GROUP BY tag
),
run AS (
    SELECT count(*) AS n, sum(output_tokens) AS osl, sum(input_tokens) AS isl,
           -- on the load generator's own clock, so that it stands without a trace clock anchor too
           (max(utc_start_ns + dur_ns) - min(utc_start_ns)) * 1e-9 AS duration_s,
           sum(output_tokens - reasoning_tokens) FILTER (WHERE output_tokens - reasoning_tokens > 0) AS answer,
           sum(reasoning_tokens) AS reasoning, min(utc_start_ns) AS first_utc, max(utc_start_ns + dur_ns) AS last_utc,
           (SELECT count(*) FROM requests WHERE status <> 'ok') AS errors
    FROM ok
),
scalars AS (
    SELECT 'request_count' AS tag, 'requests' AS unit, n::DOUBLE AS avg FROM run WHERE n > 0
    UNION ALL SELECT 'error_request_count', 'requests', errors FROM run WHERE errors > 0
    UNION ALL SELECT 'benchmark_duration', 'sec', duration_s FROM run WHERE duration_s > 0
    UNION ALL SELECT 'request_throughput', 'requests/sec', n / duration_s FROM run WHERE duration_s > 0
    UNION ALL SELECT 'output_token_throughput', 'tokens/sec', osl / duration_s FROM run WHERE duration_s > 0
    UNION ALL SELECT 'total_osl', 'tokens', osl FROM run WHERE osl IS NOT NULL
    UNION ALL SELECT 'total_isl', 'tokens', isl FROM run WHERE isl IS NOT NULL
    UNION ALL SELECT 'total_output_tokens', 'tokens', answer FROM run WHERE answer IS NOT NULL
    UNION ALL SELECT 'total_reasoning_tokens', 'tokens', reasoning FROM run WHERE reasoning IS NOT NULL
    UNION ALL SELECT 'min_request_timestamp', 'ns', first_utc FROM run WHERE first_utc IS NOT NULL
    UNION ALL SELECT 'max_response_timestamp', 'ns', last_utc FROM run WHERE last_utc IS NOT NULL
)
SELECT tag, unit, avg, min, max, p1, p5, p25, p50, p75, p90, p95, p99, std, count FROM stats
UNION ALL
SELECT tag, unit, avg, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 1 FROM scalars
