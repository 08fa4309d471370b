-- serving_requests: every request the trace knows of, from either source, on one row shape: the load
-- generator's records attached beside the trace (the `requests` table, source 'aiperf' or 'genai-perf': the
-- file's format) and the requests that the program's own scope()/mark_event() annotations name
-- (annotation_requests, source 'annotation'). Times are ns
-- on the trace timeline; a column a source does not record is NULL (a load generator does not know the pid; an
-- annotation has no client-side status). One request concept, two sources: views and reports that only need
-- start, first token and end read this.
-- Grain: one row per (source, request). No parameters.
CREATE OR REPLACE VIEW serving_requests(
    -- aiperf | genai-perf (the request file's format) | annotation.
    source,
    -- request id as the source names it.
    request_id,
    -- process that served it (annotation source), else NULL.
    pid,
    -- sent / first annotated, first token, last response / last annotated, ns.
    start_ns, first_token_ns, end_ns,
    -- end_ns - start_ns and first_token_ns - start_ns, ns.
    e2e_ns, ttft_ns,
    -- time per output token after the first (AIPerf's inter-token latency; the annotations' TPOT), ns.
    itl_ns,
    -- output tokens (AIPerf's output sequence length; the annotations' decode tokens + 1 for the first token).
    output_tokens,
    -- ok | cancelled | error (request files); 'annotated' for the annotation source.
    status,
    -- where it lies against the trace's span (request files); 'inside' for annotations (they are in the trace).
    placement
) AS
SELECT source, request_id, CAST(NULL AS BIGINT), start_ns, first_token_ns, end_ns, dur_ns, ttft_ns, itl_ns,
       output_tokens, status, placement
FROM requests
UNION ALL
SELECT 'annotation', request, pid, start_ns, first_token_ns, end_ns, e2e_ns, ttft_ns, tpot_ns,
       CAST(round(decode_tokens) AS BIGINT) + CASE WHEN first_token_ns IS NOT NULL THEN 1 ELSE 0 END,
       'annotated', 'inside'
FROM annotation_requests
