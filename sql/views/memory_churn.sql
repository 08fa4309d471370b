-- memory_churn: how much allocation traffic each GPU sees. Frequent short-lived allocations cost allocator
-- calls (cudaMalloc/cudaFree synchronise the device) and fragment memory; a steady-state inference loop
-- should allocate almost nothing.
-- Parameters: memory_short_lived_ns (SET VARIABLE memory_short_lived_ns = ...; default 10000000 = 10 ms):
-- allocations freed sooner than this count as short-lived. Grain: one row per device.
CREATE OR REPLACE VIEW memory_churn(
    -- GPU id.
    device_id,
    -- allocation and free events.
    allocs, frees,
    -- bytes allocated and freed (positive), bytes.
    alloc_bytes, free_bytes,
    -- first to last memory event on the device, ns.
    span_ns,
    -- allocations per second of span.
    allocs_per_s,
    -- allocated bytes per second of span.
    alloc_bytes_per_s,
    -- allocations freed within memory_short_lived_ns, and their bytes.
    short_lived_allocs, short_lived_bytes,
    -- median lifetime of freed allocations, ns.
    median_lifetime_ns
) AS
WITH ev AS (
    SELECT device_id, count(*) FILTER (WHERE operation = 'alloc') AS allocs,
           count(*) FILTER (WHERE operation = 'free') AS frees,
           coalesce(sum(bytes) FILTER (WHERE operation = 'alloc'), 0) AS alloc_bytes,
           coalesce(-sum(bytes) FILTER (WHERE operation = 'free'), 0) AS free_bytes,
           max(ts_ns) - min(ts_ns) AS span_ns
    FROM memory_timeline GROUP BY device_id
),
life AS (
    SELECT device_id,
           count(*) FILTER (WHERE lifetime_ns < coalesce(getvariable('memory_short_lived_ns'), 10000000)) AS n,
           coalesce(sum(bytes) FILTER (WHERE lifetime_ns < coalesce(getvariable('memory_short_lived_ns'),
                                                                     10000000)), 0) AS b,
           median(lifetime_ns) AS med
    FROM memory_allocations GROUP BY device_id
)
SELECT e.device_id, e.allocs, e.frees, CAST(e.alloc_bytes AS BIGINT), CAST(e.free_bytes AS BIGINT), e.span_ns,
       e.allocs * 1e9 / nullif(e.span_ns, 0), e.alloc_bytes * 1e9 / nullif(e.span_ns, 0),
       coalesce(l.n, 0), CAST(coalesce(l.b, 0) AS BIGINT), l.med
FROM ev e
LEFT JOIN life l USING (device_id)
