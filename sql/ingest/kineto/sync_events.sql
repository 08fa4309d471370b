-- kineto sync_events: CUDA synchronisation (cat cuda_sync) -> model table `sync_events`. sync_type from
-- cuda_sync_kind (or the name): "Stream Sync", "Event Sync", "Context Sync", "Stream Wait Event". event_id is
-- args.wait_on_cuda_event_id. Device-wide syncs carry stream -1 in Kineto (kept as recorded).
-- Input: `_kineto_events`, `_kineto_launch_pids`. No parameters.
SELECT
    s.start_ns, s.start_ns + s.dur_ns AS end_ns, s.dur_ns,
    s.device AS device_id, s.context AS context_id, s.stream AS stream_id, s.correlation AS correlation_id,
    coalesce(l.pid, m.pid) AS pid,
    CASE lower(coalesce(s.args->>'$.cuda_sync_kind', s.name))
        WHEN 'stream sync' THEN 'stream_sync' WHEN 'event sync' THEN 'event_sync'
        WHEN 'context sync' THEN 'context_sync' WHEN 'stream wait event' THEN 'stream_wait_event'
        ELSE 'unknown' END AS sync_type,
    TRY_CAST(s.args->>'$.wait_on_cuda_event_id' AS BIGINT) AS event_id
FROM _kineto_events s
LEFT JOIN _kineto_launch_pids l ON l.file_idx = s.file_idx AND l.correlation = s.correlation
LEFT JOIN _kineto_launch_pids m ON m.file_idx = s.file_idx AND m.correlation IS NULL
WHERE s.kind = 'sync'
