-- rule: serving_host_bound_decode
-- title: Decode steps paced by the host while requests wait for their next token
-- severity: auto
-- group_by: pid
-- param max_busy_pct = 50: a decode step is host-bound when the GPU was busy less than this share of it ...
-- param min_step_frac = 0.2: ... and the finding is made when at least this fraction of the decode steps are
-- impact: for each host-bound decode step, its time minus the GPU's busy time in it: the part of every running
--   request's inter-token latency in which the GPU waited for the host.
-- summary: {n} of {decode_steps:int} decode steps of process {pid} were host-bound: the GPU was busy a median
--   {median_busy_pct:pct} of a step (threshold {p_max_busy_pct}%) with {avg_generation_requests:int} requests in the
--   batch on average, so {impact:time} of decode time passed with the GPU idle; the requests' median inter-token
--   latency was {itl_p50_ns:time}.
-- recommendation: Take the host out of the decode loop: replay decode from CUDA graphs (vLLM and SGLang capture
--   them unless run with --enforce-eager / --disable-cuda-graph), schedule step N+1 while the GPU runs step N
--   (asynchronous scheduling), and drop per-step host synchronisations (.tolist(), .item(), building small tensors
--   on the host). A faster GPU would not shorten these steps.
-- why: A decode step launches hundreds of small kernels for one token per request; when the host needs longer to
--   launch them than the GPU to run them, inter-token latency is set by Python and the launch path, and every
--   request in the batch pays it.
WITH decode AS (
    SELECT * FROM serving_steps WHERE kind = 'decode'
),
per_pid AS (
    SELECT pid, count(*) AS decode_steps,
           count(*) FILTER (WHERE gpu_busy_pct < $max_busy_pct) AS host_bound,
           quantile_cont(gpu_busy_pct, 0.5) AS median_busy_pct
    FROM decode
    GROUP BY pid
),
itl AS (
    SELECT quantile_cont(itl_ns, 0.5) AS itl_p50_ns FROM requests WHERE status = 'ok'
)
SELECT d.dur_ns - d.gpu_busy_ns AS impact_ns, d.start_ns, d.end_ns, d.step_id, d.pid, d.tid, d.generation_requests,
       d.dur_ns, d.gpu_busy_ns, d.gpu_busy_pct, p.decode_steps, p.median_busy_pct, i.itl_p50_ns
FROM decode d
JOIN per_pid p USING (pid)
CROSS JOIN itl i
WHERE d.gpu_busy_pct < $max_busy_pct AND p.host_bound >= greatest(1, $min_step_frac * p.decode_steps)
