-- compare_request_samples: the completed requests of a load generator's request file joined to the trace
-- (Trace.attach_requests / --requests / a bundle's own request file), one row per request: what the serving
-- gate compares. Cancelled and failed requests are left out, as AIPerf leaves them out of its latency statistics;
-- out_tokens_rate is the request's output tokens times the request count over the run's duration (the load
-- generator's clock: first request start to last response), so that its mean over the requests is the run's
-- output tokens/s and resampling the requests gives that figure's noise. Grain: one row per completed request.
-- No parameters.
CREATE OR REPLACE VIEW compare_request_samples(
    -- time to first token, ns.
    ttft_ns,
    -- the request's mean inter-token latency ((latency - ttft) / (output tokens - 1)), ns; NULL for one token.
    itl_ns,
    -- request latency (send to last response), ns.
    latency_ns,
    -- output tokens x completed requests / run duration (tokens/s); NULL without token counts.
    out_tokens_rate
) AS
WITH ok AS (SELECT * FROM requests WHERE status = 'ok'),
run AS (
    SELECT count(*) AS n, (max(utc_start_ns + dur_ns) - min(utc_start_ns)) * 1e-9 AS duration_s FROM ok
)
SELECT ok.ttft_ns, ok.itl_ns, ok.dur_ns,
       CASE WHEN run.duration_s > 0 THEN ok.output_tokens * run.n / run.duration_s END
FROM ok, run
