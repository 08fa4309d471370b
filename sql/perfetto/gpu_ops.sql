-- perfetto gpu_ops: kernels, memcpy and memset as Chrome-trace complete events, one track per (device, stream).
-- Grain: one row per GPU operation. `head` is the event's JSON up to the thread id, which the exporter appends
-- once it has chosen the track ('...,"tid":' + tid + '}'). Args carry units in their names.
-- params: perfetto_gpu_pid_base (SET VARIABLE), the Chrome-trace pid of GPU 0; perfetto_from_ns, perfetto_to_ns
-- (NULL = unbounded): keep only events overlapping that window.
WITH ops AS (
    SELECT device_id, stream_id, pid, correlation_id, start_ns, dur_ns, 'kernel' AS cat,
           coalesce(short_name, name) AS name,
           json_object('name', name, 'correlation_id', correlation_id, 'context_id', context_id,
                       'grid', '(' || grid_x || ',' || grid_y || ',' || grid_z || ')',
                       'block', '(' || block_x || ',' || block_y || ',' || block_z || ')',
                       'registers_per_thread', registers_per_thread, 'static_smem_bytes', static_smem_bytes,
                       'dynamic_smem_bytes', dynamic_smem_bytes, 'graph_id', graph_id,
                       'graph_node_id', graph_node_id)::VARCHAR AS args_json
    FROM kernels
    UNION ALL
    SELECT device_id, stream_id, pid, correlation_id, start_ns, dur_ns, 'memcpy',
           'Memcpy ' || coalesce(copy_kind_name, '?') || ' ' || coalesce(src_kind, '?') || ' -> '
               || coalesce(dst_kind, '?'),
           json_object('bytes', bytes, 'copy_kind', copy_kind_name, 'src_kind', src_kind, 'dst_kind', dst_kind,
                       'src_device_id', src_device_id, 'dst_device_id', dst_device_id,
                       'throughput_gb_per_s', CASE WHEN dur_ns > 0 THEN round(bytes / dur_ns, 3) END,
                       'correlation_id', correlation_id)::VARCHAR
    FROM memcpy
    UNION ALL
    SELECT device_id, stream_id, pid, correlation_id, start_ns, dur_ns, 'memset', 'Memset ' || coalesce(mem_kind, '?'),
           json_object('bytes', bytes, 'mem_kind', mem_kind, 'value', value,
                       'correlation_id', correlation_id)::VARCHAR
    FROM memset
)
SELECT coalesce(device_id, -1) AS device_id, coalesce(stream_id, -1) AS stream_id, coalesce(pid, -1) AS pid,
       coalesce(correlation_id, -1) AS correlation_id, start_ns, start_ns + greatest(coalesce(dur_ns, 0), 0) AS end_ns,
       '{"ph":"X","cat":"' || cat || '","name":' || to_json(name) || ',"ts":' || perfetto_us(start_ns)
           || ',"dur":' || perfetto_us(greatest(coalesce(dur_ns, 0), 0)) || ',"args":' || args_json
           || ',"pid":' || (getvariable('perfetto_gpu_pid_base') + coalesce(device_id, -1)) || ',"tid":' AS head
FROM ops
WHERE start_ns + greatest(coalesce(dur_ns, 0), 0) >= coalesce(getvariable('perfetto_from_ns'), start_ns)
  AND start_ns <= coalesce(getvariable('perfetto_to_ns'), start_ns)
