-- sync_events: CUPTI_ACTIVITY_KIND_SYNCHRONIZATION -> model table `sync_events` (host blocking interval of
-- each synchronisation CUPTI observed). No parameters.
SELECT
    y."start" AS start_ns, y."end" AS end_ns, y."end" - y."start" AS dur_ns,
    y.deviceId AS device_id, y.contextId AS context_id, y.streamId AS stream_id,
    y.correlationId AS correlation_id, (y.globalPid >> 24) & 16777215 AS pid,
    CASE y.syncType WHEN 1 THEN 'event_sync' WHEN 2 THEN 'stream_wait_event' WHEN 3 THEN 'stream_sync'
        WHEN 4 THEN 'context_sync' ELSE 'unknown' END AS sync_type,
    y.eventId AS event_id
FROM CUPTI_ACTIVITY_KIND_SYNCHRONIZATION y
