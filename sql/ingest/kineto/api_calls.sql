-- kineto api_calls: CUDA/HIP runtime (cat cuda_runtime / Runtime) and driver (cuda_driver) calls -> model table
-- `api_calls`. Version and per-thread-stream suffixes are folded into `name` as for nsys; Kineto records no
-- return value (NULL). Input: `_kineto_events`. No parameters.
SELECT
    start_ns, start_ns + dur_ns AS end_ns, dur_ns,
    pid, tid,
    correlation AS correlation_id,
    regexp_replace(name, '(_v[0-9]+|_ptsz|_ptds)+$', '') AS name,
    name AS raw_name,
    kind AS api_kind,
    CAST(NULL AS BIGINT) AS return_value
FROM _kineto_events
WHERE kind IN ('runtime', 'driver')
