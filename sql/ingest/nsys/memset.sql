-- memset: CUPTI_ACTIVITY_KIND_MEMSET -> model table `memset`. No parameters.
SELECT
    m."start" AS start_ns, m."end" AS end_ns, m."end" - m."start" AS dur_ns,
    m.deviceId AS device_id, m.contextId AS context_id, m.streamId AS stream_id,
    m.correlationId AS correlation_id, (m.globalPid >> 24) & 16777215 AS pid,
    m.bytes AS bytes,
    CASE m.memKind WHEN 0 THEN 'Pageable' WHEN 1 THEN 'Pinned' WHEN 2 THEN 'Device' WHEN 3 THEN 'Array'
        WHEN 4 THEN 'Managed' WHEN 5 THEN 'Device Static' WHEN 6 THEN 'Managed Static' ELSE 'Unknown' END AS mem_kind,
    m.value AS value
FROM CUPTI_ACTIVITY_KIND_MEMSET m
