-- memcpy: CUPTI_ACTIVITY_KIND_MEMCPY -> model table `memcpy`.
-- Copy and memory kinds use the CUPTI codes, labelled from built-in constants because ENUM tables are absent
-- (schema 2.9.1) or empty (2022.4 --lazy=false). No parameters.
SELECT
    c."start" AS start_ns, c."end" AS end_ns, c."end" - c."start" AS dur_ns,
    c.deviceId AS device_id, c.contextId AS context_id, c.streamId AS stream_id,
    c.correlationId AS correlation_id, (c.globalPid >> 24) & 16777215 AS pid,
    c.bytes AS bytes,
    c.copyKind AS copy_kind,
    CASE c.copyKind
        WHEN 1 THEN 'HtoD' WHEN 2 THEN 'DtoH' WHEN 3 THEN 'HtoA' WHEN 4 THEN 'AtoH' WHEN 5 THEN 'AtoA'
        WHEN 6 THEN 'AtoD' WHEN 7 THEN 'DtoA' WHEN 8 THEN 'DtoD' WHEN 9 THEN 'HtoH' WHEN 10 THEN 'PtoP'
        WHEN 11 THEN 'Unified HtoD' WHEN 12 THEN 'Unified DtoH' WHEN 13 THEN 'Unified DtoD' ELSE 'Unknown'
    END AS copy_kind_name,
    CASE c.srcKind WHEN 0 THEN 'Pageable' WHEN 1 THEN 'Pinned' WHEN 2 THEN 'Device' WHEN 3 THEN 'Array'
        WHEN 4 THEN 'Managed' WHEN 5 THEN 'Device Static' WHEN 6 THEN 'Managed Static' ELSE 'Unknown' END AS src_kind,
    CASE c.dstKind WHEN 0 THEN 'Pageable' WHEN 1 THEN 'Pinned' WHEN 2 THEN 'Device' WHEN 3 THEN 'Array'
        WHEN 4 THEN 'Managed' WHEN 5 THEN 'Device Static' WHEN 6 THEN 'Managed Static' ELSE 'Unknown' END AS dst_kind,
    CASE WHEN c.srcDeviceId < 4294967295 THEN c.srcDeviceId END AS src_device_id,
    CASE WHEN c.dstDeviceId < 4294967295 THEN c.dstDeviceId END AS dst_device_id
FROM CUPTI_ACTIVITY_KIND_MEMCPY c
