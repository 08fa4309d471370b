-- perfetto host_slices: CPU-side intervals as Chrome-trace complete events on the thread that ran them.
-- `lane` says which sub-track of the thread an event goes to (the exporter gives each its own tid so that NVTX
-- ranges, CUDA API calls and OS runtime calls each nest cleanly, as nsys draws them): nvtx | cuda_api | osrt.
-- Cross-thread start/end ranges stay on the thread that started them. Grain: one row per interval.
-- No parameters.
SELECT pid, tid, 'nvtx' AS lane, start_ns, dur_ns, coalesce(category, 'nvtx') AS cat,
       coalesce(name, '') AS name, CAST(NULL AS BIGINT) AS correlation_id,
       json_object('domain', domain, 'style', style, 'range_id', range_id, 'depth', depth,
                   'end_tid', end_tid, 'unterminated', unterminated, 'payload_int', payload_int,
                   'payload_double', payload_double, 'payload_json', payload_json)::VARCHAR AS args_json
FROM nvtx_ranges
UNION ALL
SELECT pid, tid, 'cuda_api', start_ns, dur_ns, 'cuda_api', name, correlation_id,
       json_object('raw_name', raw_name, 'api_kind', api_kind, 'correlation_id', correlation_id,
                   'return_value', return_value)::VARCHAR
FROM api_calls
UNION ALL
SELECT pid, tid, 'osrt', start_ns, dur_ns, 'osrt', name, CAST(NULL AS BIGINT),
       json_object('return_value', return_value, 'nesting_level', nesting_level)::VARCHAR
FROM osrt_calls
