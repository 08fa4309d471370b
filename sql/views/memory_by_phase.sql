-- memory_by_phase: GPU memory seen from the user's annotated phases (inferscope.scope names such as prefill and
-- decode): for each phase and device, the highest allocated total while one of its ranges was open, and how much
-- memory its ranges leave allocated (allocated at range end minus at range start: KV-cache growth shows here).
-- Allocation traffic counts events of the range's own process inside the range. Grain: one row per
-- (device, phase). No parameters.
CREATE OR REPLACE VIEW memory_by_phase(
    -- GPU id.
    device_id,
    -- the scope name.
    phase,
    -- ranges of the phase that overlap the device's memory events.
    ranges,
    -- highest device_allocated_bytes while a range of the phase was open, bytes.
    peak_bytes,
    -- mean and largest (end - start) allocated change over one range, bytes.
    mean_delta_bytes, max_delta_bytes,
    -- allocations made by the range's process inside its ranges, and their bytes.
    allocs, alloc_bytes
) AS
WITH r AS (
    SELECT a.range_id, a.pid, a.name, a.start_ns, a.end_ns, d.device_id
    FROM annotation_ranges a, (SELECT DISTINCT device_id FROM memory_timeline) d
),
at_start AS (
    SELECT r.range_id, r.device_id, m.device_allocated_bytes AS b
    FROM r ASOF LEFT JOIN memory_timeline m ON m.device_id = r.device_id AND r.start_ns >= m.ts_ns
),
at_end AS (
    SELECT r.range_id, r.device_id, m.device_allocated_bytes AS b
    FROM r ASOF LEFT JOIN memory_timeline m ON m.device_id = r.device_id AND r.end_ns >= m.ts_ns
),
inside AS (
    SELECT r.range_id, r.device_id, max(m.device_allocated_bytes) AS peak,
           count(*) FILTER (WHERE m.operation = 'alloc' AND m.pid = r.pid) AS allocs,
           coalesce(sum(m.bytes) FILTER (WHERE m.operation = 'alloc' AND m.pid = r.pid), 0) AS alloc_bytes
    FROM r JOIN memory_timeline m ON m.device_id = r.device_id AND m.ts_ns >= r.start_ns AND m.ts_ns < r.end_ns
    GROUP BY r.range_id, r.device_id
),
per_range AS (
    SELECT r.device_id, r.name, greatest(coalesce(s.b, 0), coalesce(i.peak, 0)) AS peak,
           coalesce(e.b, 0) - coalesce(s.b, 0) AS delta, coalesce(i.allocs, 0) AS allocs,
           coalesce(i.alloc_bytes, 0) AS alloc_bytes, s.b IS NOT NULL OR i.peak IS NOT NULL AS seen
    FROM r
    LEFT JOIN at_start s USING (range_id, device_id)
    LEFT JOIN at_end e USING (range_id, device_id)
    LEFT JOIN inside i USING (range_id, device_id)
)
SELECT device_id, name, count(*), CAST(max(peak) AS BIGINT), avg(delta), CAST(max(delta) AS BIGINT),
       sum(allocs), CAST(sum(alloc_bytes) AS BIGINT)
FROM per_range
WHERE seen
GROUP BY device_id, name
