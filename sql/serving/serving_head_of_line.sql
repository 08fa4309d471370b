-- rule: serving_head_of_line
-- title: Prefills stall the requests that are decoding (head-of-line blocking)
-- severity: auto
-- group_by: pid
-- param min_stalled_frac = 0.5: report when at least this fraction of (prefill, running request) pairs show the
--   running request's next token waiting through the whole prefill (request_hol.stalled)
-- impact: per prefill step that ran while requests were decoding, its duration: the time every running request's
--   next token was held back (the requests' summed extra wait is in the evidence, stall_ns).
-- summary: {n} prefill step{s} of process {pid} ran while other requests were decoding, {impact:time} in all; in
--   {stalled_pct:pct} of {pairs:int} cases the running request's next token waited the whole prefill, adding
--   {total_stall_ns:time} to their inter-token latencies (up to {max_running:int} requests held back by one
--   prefill).
-- recommendation: Keep decodes moving while prompts are prefilled: chunked prefill (vLLM
--   --enable-chunked-prefill with a --max-num-batched-tokens budget, SGLang --chunked-prefill-size) mixes prompt
--   chunks into decode steps, and prefill/decode disaggregation moves prefills off the decoding GPU. Prefill-first
--   scheduling without chunking makes every arrival a pause for everyone already streaming.
-- why: With prefill-first scheduling a step runs either a whole prompt or a decode batch; each arriving prompt
--   therefore inserts a step as long as its prefill between two tokens of every request already streaming, which
--   shows up as spikes in their inter-token latency (the p99 ITL) rather than in their TTFT.
WITH pairs AS (
    SELECT step_id, any_value(start_ns) AS start_ns, any_value(end_ns) AS end_ns, any_value(prefill_ns) AS prefill_ns,
           any_value(context_tokens) AS context_tokens, count(*) AS running,
           count(*) FILTER (WHERE stalled) AS stalled, sum(stall_ns) AS stall_ns
    FROM request_hol
    GROUP BY step_id
),
totals AS (
    SELECT sum(running) AS pairs, 100.0 * sum(stalled) / sum(running) AS stalled_pct, sum(stall_ns) AS total_stall_ns,
           max(running) AS max_running
    FROM pairs
)
SELECT p.prefill_ns AS impact_ns, p.start_ns, p.end_ns, p.step_id, s.pid, s.tid, p.context_tokens, p.running,
       p.stalled, p.stall_ns, t.pairs, t.stalled_pct, t.total_stall_ns, t.max_running
FROM pairs p
JOIN serving_steps s USING (step_id)
CROSS JOIN totals t
WHERE t.stalled_pct >= 100.0 * $min_stalled_frac
