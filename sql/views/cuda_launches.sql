-- cuda_launches: every GPU operation (kernel, memcpy, memset) joined to the API call that launched it.
-- The join is on correlation_id AND pid: correlation ids are unique only within a process. GPU work with no
-- recorded launch call (e.g. CUDA-graph nodes when only the graph launch was traced) keeps NULL api columns.
-- Columns: op_kind (kernel | memcpy | memset), op_name, GPU place and times, api_* columns, queue_ns = GPU start - API
-- end (NULL when negative, i.e. the GPU started before the call returned). No parameters.
CREATE OR REPLACE VIEW cuda_launches AS
WITH ops AS (
    SELECT 'kernel' AS op_kind, start_ns, end_ns, dur_ns, device_id, context_id, stream_id, correlation_id, pid,
           name AS op_name, CAST(NULL AS BIGINT) AS bytes
    FROM kernels
    UNION ALL
    SELECT 'memcpy', start_ns, end_ns, dur_ns, device_id, context_id, stream_id, correlation_id, pid,
           '[CUDA memcpy ' || copy_kind_name || ']', bytes
    FROM memcpy
    UNION ALL
    SELECT 'memset', start_ns, end_ns, dur_ns, device_id, context_id, stream_id, correlation_id, pid,
           '[CUDA memset]', bytes
    FROM memset
)
SELECT o.op_kind, o.op_name, o.bytes,
       o.start_ns AS kernel_start_ns, o.end_ns AS kernel_end_ns, o.dur_ns AS kernel_dur_ns,
       o.device_id, o.context_id, o.stream_id, o.correlation_id, o.pid,
       a.pid AS api_pid, a.tid AS api_tid, a.name AS api_name,
       a.start_ns AS api_start_ns, a.end_ns AS api_end_ns, a.dur_ns AS api_dur_ns,
       CASE WHEN o.start_ns - a.end_ns >= 0 THEN o.start_ns - a.end_ns END AS queue_ns
FROM ops o
LEFT JOIN api_calls a ON a.correlation_id = o.correlation_id AND a.pid = o.pid
