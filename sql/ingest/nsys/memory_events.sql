-- memory_events: CUDA_GPU_MEMORY_USAGE_EVENTS (nsys --cuda-memory-usage=true) -> model table `memory_events`.
-- memoryOperationType 0 = allocation, 1 = free; freed bytes are stored negative so SUM() over time gives the
-- allocated total. No parameters.
SELECT
    u."start" AS ts_ns,
    (u.globalPid >> 24) & 16777215 AS pid,
    u.deviceId AS device_id,
    u.address AS address,
    CASE WHEN u.memoryOperationType = 1 THEN -abs(u.bytes) ELSE u.bytes END AS bytes,
    CASE WHEN u.memoryOperationType = 1 THEN 'free' ELSE 'alloc' END AS operation,
    CASE u.memKind WHEN 0 THEN 'Pageable' WHEN 1 THEN 'Pinned' WHEN 2 THEN 'Device' WHEN 3 THEN 'Array'
        WHEN 4 THEN 'Managed' WHEN 5 THEN 'Device Static' WHEN 6 THEN 'Managed Static' ELSE 'Unknown' END AS mem_kind,
    CAST(NULL AS BIGINT) AS total_allocated_bytes
FROM CUDA_GPU_MEMORY_USAGE_EVENTS u
