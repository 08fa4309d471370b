-- kineto memory_events: allocator records ([memory] instant events, profile_memory=True) on a GPU -> model table
-- `memory_events`. "Device Type" 0 is the CPU and is left out; Bytes > 0 is an allocation, < 0 a free.
-- Input: `_kineto_events`, `_files`. No parameters.
WITH m AS (
    SELECT e.*, json_extract_string(e.args, ['$."Device Type"', '$."Device Id"', '$.Addr', '$.Bytes',
                                             '$."Total Allocated"']) AS ma
    FROM _kineto_events e
    WHERE e.kind = 'memory'
)
SELECT start_ns AS ts_ns, pid,
       TRY_CAST(ma[2] AS BIGINT) + f.device_offset AS device_id,
       TRY_CAST(ma[3] AS BIGINT) AS address,
       TRY_CAST(ma[4] AS BIGINT) AS bytes,
       CASE WHEN TRY_CAST(ma[4] AS BIGINT) >= 0 THEN 'alloc' ELSE 'free' END AS operation,
       'Device' AS mem_kind,
       TRY_CAST(ma[5] AS BIGINT) AS total_allocated_bytes
FROM m
JOIN _files f USING (file_idx)
WHERE coalesce(TRY_CAST(ma[1] AS BIGINT), 0) <> 0
