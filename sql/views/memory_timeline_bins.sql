-- memory_timeline_bins: GPU memory over time in equal bins, for charts (the report's memory chart): per bin the
-- highest allocated total reached, the total at the bin's end (carried through bins without events) and the
-- allocation traffic. The window spans the GPU operations and the memory events together, so the chart shares
-- its time axis with the GPU-utilisation chart of the same trace.
-- Parameters: memory_n_bins (SET VARIABLE memory_n_bins = 240; default 240).
-- Grain: one row per (device, bin), empty bins included.
CREATE OR REPLACE VIEW memory_timeline_bins(
    -- GPU id.
    device_id,
    -- bin number, 0 = first.
    bin,
    -- bin start, ns on the trace timeline.
    bin_start_ns,
    -- bin width, ns.
    bin_ns,
    -- highest device_allocated_bytes during the bin (including the total carried in from before it), bytes.
    max_allocated_bytes,
    -- device_allocated_bytes at the end of the bin, bytes.
    end_allocated_bytes,
    -- allocations and frees in the bin, and their bytes (freed bytes positive).
    allocs, frees, alloc_bytes, free_bytes
) AS
WITH ops AS (
    SELECT start_ns, end_ns FROM kernels
    UNION ALL SELECT start_ns, end_ns FROM memcpy
    UNION ALL SELECT start_ns, end_ns FROM memset
    UNION ALL SELECT ts_ns, ts_ns + 1 FROM memory_timeline
),
grid AS (
    SELECT min(start_ns) AS t0_ns,
           CAST(coalesce(getvariable('memory_n_bins'), 240) AS BIGINT) AS n_bins,
           greatest(1, CAST(ceil((max(end_ns) - min(start_ns))
                                 / coalesce(getvariable('memory_n_bins'), 240)) AS BIGINT)) AS bin_ns
    FROM ops
    HAVING count(*) > 0 AND (SELECT count(*) FROM memory_timeline) > 0
),
cells AS (
    SELECT d.device_id, b.bin, g.t0_ns + b.bin * g.bin_ns AS bin_start_ns, g.bin_ns
    FROM (SELECT DISTINCT device_id FROM memory_timeline) d, grid g,
         (SELECT unnest(range(n_bins)) AS bin FROM grid) b
),
in_bin AS (
    SELECT m.device_id, (m.ts_ns - g.t0_ns) // g.bin_ns AS bin,
           max(m.device_allocated_bytes) AS max_bytes,
           count(*) FILTER (WHERE m.operation = 'alloc') AS allocs,
           count(*) FILTER (WHERE m.operation = 'free') AS frees,
           coalesce(sum(m.bytes) FILTER (WHERE m.operation = 'alloc'), 0) AS alloc_bytes,
           coalesce(-sum(m.bytes) FILTER (WHERE m.operation = 'free'), 0) AS free_bytes
    FROM memory_timeline m, grid g
    GROUP BY ALL
),
carried AS (
    SELECT c.device_id, c.bin, m.device_allocated_bytes AS before_bytes
    FROM cells c
    ASOF LEFT JOIN memory_timeline m ON m.device_id = c.device_id AND c.bin_start_ns > m.ts_ns
),
ended AS (
    SELECT c.device_id, c.bin, m.device_allocated_bytes AS end_bytes
    FROM cells c
    ASOF LEFT JOIN memory_timeline m ON m.device_id = c.device_id AND c.bin_start_ns + c.bin_ns > m.ts_ns
)
SELECT c.device_id, c.bin, c.bin_start_ns, c.bin_ns,
       CAST(coalesce(greatest(k.before_bytes, i.max_bytes), k.before_bytes, i.max_bytes, 0) AS BIGINT),
       CAST(coalesce(e.end_bytes, 0) AS BIGINT),
       coalesce(i.allocs, 0), coalesce(i.frees, 0),
       CAST(coalesce(i.alloc_bytes, 0) AS BIGINT), CAST(coalesce(i.free_bytes, 0) AS BIGINT)
FROM cells c
LEFT JOIN in_bin i USING (device_id, bin)
LEFT JOIN carried k USING (device_id, bin)
LEFT JOIN ended e USING (device_id, bin)
