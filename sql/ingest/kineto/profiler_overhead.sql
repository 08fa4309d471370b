-- kineto profiler_overhead: Kineto's own overhead intervals (cat overhead, e.g. CUPTI buffer flushes) -> model
-- table `profiler_overhead`. Input: `_kineto_events`. No parameters.
SELECT start_ns, start_ns + dur_ns AS end_ns, dur_ns, pid, tid, name
FROM _kineto_events
WHERE kind = 'overhead'
