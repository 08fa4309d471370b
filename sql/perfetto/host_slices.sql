-- perfetto host_slices: CPU-side intervals as Chrome-trace complete events on the thread that ran them.
-- `lane` says which sub-track of the thread an event goes to (the exporter gives each its own tid so that NVTX
-- ranges, CUDA API calls and OS runtime calls each nest cleanly, as nsys draws them): nvtx | cuda_api | osrt;
-- `lane_order` is its position. Cross-thread start/end ranges stay on the thread that started them. `head` is the
-- event's JSON up to the thread id. Grain: one row per interval.
-- params: perfetto_from_ns, perfetto_to_ns (SET VARIABLE; NULL = unbounded): keep only events overlapping it.
WITH slices AS (
    SELECT pid, tid, 'nvtx' AS lane, 0 AS lane_order, start_ns, dur_ns, coalesce(category, 'nvtx') AS cat,
           coalesce(name, '') AS name, CAST(NULL AS BIGINT) AS correlation_id,
           json_object('domain', domain, 'style', style, 'range_id', range_id, 'depth', depth,
                       'end_tid', end_tid, 'unterminated', unterminated, 'payload_int', payload_int,
                       'payload_double', payload_double, 'payload_json', payload_json)::VARCHAR AS args_json
    FROM nvtx_ranges
    UNION ALL
    SELECT pid, tid, 'cuda_api', 1, start_ns, dur_ns, 'cuda_api', name, correlation_id,
           json_object('raw_name', raw_name, 'api_kind', api_kind, 'correlation_id', correlation_id,
                       'return_value', return_value)::VARCHAR
    FROM api_calls
    UNION ALL
    SELECT pid, tid, 'osrt', 2, start_ns, dur_ns, 'osrt', name, CAST(NULL AS BIGINT),
           json_object('return_value', return_value, 'nesting_level', nesting_level)::VARCHAR
    FROM osrt_calls
)
SELECT coalesce(pid, -1) AS pid, coalesce(tid, -1) AS tid, lane, lane_order,
       coalesce(correlation_id, -1) AS correlation_id, start_ns, start_ns + greatest(coalesce(dur_ns, 0), 0) AS end_ns,
       '{"ph":"X","cat":' || to_json(cat) || ',"name":' || to_json(name) || ',"ts":' || perfetto_us(start_ns)
           || ',"dur":' || perfetto_us(greatest(coalesce(dur_ns, 0), 0)) || ',"args":' || args_json
           || ',"pid":' || coalesce(pid, -1) || ',"tid":' AS head
FROM slices
WHERE start_ns + greatest(coalesce(dur_ns, 0), 0) >= coalesce(getvariable('perfetto_from_ns'), start_ns)
  AND start_ns <= coalesce(getvariable('perfetto_to_ns'), start_ns)
