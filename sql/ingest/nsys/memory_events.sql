-- memory_events: CUDA_GPU_MEMORY_USAGE_EVENTS (nsys --cuda-memory-usage=true) -> model table `memory_events`.
-- Semantics (nsys schema: memoryOperationType -> ENUM_CUDA_DEV_MEM_EVENT_OPER 0 Allocation / 1 Deallocation,
-- memKind -> ENUM_CUDA_MEM_KIND, the CUDA_MEMOPR_MEMORY_KIND_* codes): freed bytes are stored negative so a
-- running SUM() gives the allocated total; a free whose bytes column is 0 takes the size of the latest allocation
-- at the same address (same process and device). Pinned/Pageable rows are host memory (cudaMallocHost) and keep
-- their kind so GPU views can leave them out. The allocating thread comes from the API call with the same
-- correlationId in the same process (CUPTI_ACTIVITY_KIND_RUNTIME; --cudabacktrace duplicates skipped).
-- No parameters.
WITH ev AS (
    SELECT u."start" AS ts_ns, (u.globalPid >> 24) & 16777215 AS pid, u.deviceId AS device_id,
           u.address AS address, abs(u.bytes) AS size, u.memoryOperationType = 1 AS is_free, u.memKind AS kind,
           u.correlationId AS correlation_id
    FROM CUDA_GPU_MEMORY_USAGE_EVENTS u
),
allocs AS (
    SELECT ts_ns, pid, device_id, address, size FROM ev WHERE NOT is_free
),
sized AS (  -- only frees look up their allocation (a non-key predicate in an ASOF join drops rows in DuckDB 1.2)
    SELECT e.*, a.size AS alloc_size
    FROM (SELECT * FROM ev WHERE is_free) e
    ASOF LEFT JOIN allocs a
      ON a.pid = e.pid AND a.device_id = e.device_id AND a.address = e.address AND a.ts_ns <= e.ts_ns
    UNION ALL
    SELECT e.*, CAST(NULL AS BIGINT) AS alloc_size FROM ev e WHERE e.is_free IS NOT TRUE
),
calls AS (
    SELECT (r.globalTid >> 24) & 16777215 AS pid, r.correlationId AS correlation_id,
           min(r.globalTid & 16777215) AS tid
    FROM CUPTI_ACTIVITY_KIND_RUNTIME r
    WHERE r.eventClass IS DISTINCT FROM 67
    GROUP BY 1, 2
)
SELECT
    s.ts_ns,
    s.pid,
    c.tid,
    nullif(s.correlation_id, 0) AS correlation_id,
    s.device_id,
    s.address,
    CASE WHEN s.is_free THEN -coalesce(nullif(s.size, 0), s.alloc_size, 0) ELSE s.size END AS bytes,
    CASE WHEN s.is_free THEN 'free' ELSE 'alloc' END AS operation,
    CASE s.kind WHEN 0 THEN 'Pageable' WHEN 1 THEN 'Pinned' WHEN 2 THEN 'Device' WHEN 3 THEN 'Array'
        WHEN 4 THEN 'Managed' WHEN 5 THEN 'Device Static' WHEN 6 THEN 'Managed Static' ELSE 'Unknown' END AS mem_kind,
    CAST(NULL AS BIGINT) AS total_allocated_bytes
FROM sized s
LEFT JOIN calls c ON c.pid = s.pid AND c.correlation_id = s.correlation_id
