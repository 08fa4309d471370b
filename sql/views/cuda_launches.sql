-- cuda_launches: every GPU operation (gpu_ops) joined to the API call that launched it.
-- The join is on correlation_id AND pid: correlation ids are unique only within a process. GPU work with no
-- recorded launch call (e.g. CUDA-graph nodes when only the graph launch was traced) keeps NULL api columns; the
-- kernels of one graph launch all join that cudaGraphLaunch call.
-- Columns: op_id, op_kind (kernel | memcpy | memset), op_class (compute | copy), op_name, GPU place and times,
-- api_* columns, queue_ns = GPU start - API end (NULL when negative, i.e. the GPU started before the call
-- returned), launch_ns = when the work was issued (API start, or GPU start when no call was recorded).
-- No parameters.
CREATE OR REPLACE VIEW cuda_launches AS
SELECT o.op_id, o.op_kind, o.op_class, o.label AS op_name, o.bytes, o.is_comm, o.graph_id,
       o.start_ns AS kernel_start_ns, o.end_ns AS kernel_end_ns, o.dur_ns AS kernel_dur_ns,
       o.device_id, o.context_id, o.stream_id, o.correlation_id, o.pid,
       a.pid AS api_pid, a.tid AS api_tid, a.name AS api_name,
       a.start_ns AS api_start_ns, a.end_ns AS api_end_ns, a.dur_ns AS api_dur_ns,
       CASE WHEN o.start_ns - a.end_ns >= 0 THEN o.start_ns - a.end_ns END AS queue_ns,
       coalesce(a.start_ns, o.start_ns) AS launch_ns
FROM gpu_ops o
LEFT JOIN api_calls a ON a.correlation_id = o.correlation_id AND a.pid = o.pid
