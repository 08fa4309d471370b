-- rule: serving_slot_queueing
-- title: Requests queue for a batch slot before their prefill (TTFT is mostly waiting)
-- severity: auto
-- group_by: pid
-- param min_queue_frac = 0.5: a request counts when it waited at least this fraction of its TTFT before its
--   prefill step started ...
-- param min_requests_frac = 0.2: ... and the finding is made when at least this fraction of the joined requests
--   did
-- impact: per request that queued, the time from its start to its prefill step's start (request_gpu.queue_ns).
-- summary: {n} of {joined:int} requests waited most of their TTFT before their prefill began: {impact:time} in
--   all, up to {max_queue_ns:time}; up to {max_in_flight:int} requests were in flight at once for the
--   {slots_seen:int} batch slots the decode steps show, so the rest queued.
-- recommendation: Admit more requests at once (more batch slots: vLLM --max-num-seqs, within KV-cache memory), or
--   shed or route load before it queues; where slots are free but prefills queue behind each other, batch
--   several prompts into one prefill step or chunk them.
-- why: TTFT counts from when the client sent the request; time spent waiting for a free slot or behind other
--   prefills is part of it, and no kernel optimisation shortens it.
WITH joined AS (
    SELECT * FROM request_gpu WHERE queue_ns IS NOT NULL
),
prefill AS (
    SELECT j.*, s.pid, s.tid FROM joined j JOIN serving_steps s ON s.step_id = j.prefill_step_id
),
totals AS (
    SELECT count(*) AS joined, max(queue_ns) AS max_queue_ns,
           count(*) FILTER (WHERE queue_ns >= $min_queue_frac * ttft_ns) AS queued
    FROM joined
),
ctx AS (
    SELECT max_in_flight, slots_seen FROM serving_summary
)
SELECT p.queue_ns AS impact_ns, p.start_ns, p.prefill_start_ns AS end_ns, p.request_id, p.pid, p.tid, p.ttft_ns,
       p.queue_ns, p.prefill_ns, p.mean_in_flight, t.joined, t.max_queue_ns, c.max_in_flight, c.slots_seen
FROM prefill p
CROSS JOIN totals t
CROSS JOIN ctx c
WHERE p.queue_ns >= $min_queue_frac * p.ttft_ns AND t.queued >= greatest(1, $min_requests_frac * t.joined)
