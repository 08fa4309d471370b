-- rule: memory_near_capacity
-- title: GPU memory close to the device's capacity
-- severity: medium
-- group_by: device_id
-- param min_pct = 90.0: allocated share of the device's memory (devices.total_memory_bytes) that counts as near
--   capacity, in percent
-- impact: time the device spent at or above min_pct of its memory (not GPU time lost: the time at risk of an
--   out-of-memory error or of the allocator freeing its cache and synchronising).
-- summary: {gpu} reached {peak_bytes:bytes} allocated, {peak_pct:pct} of its {total_memory_bytes:bytes}, during
--   {phase_or_range}; it spent {impact:time} at or above {p_min_pct:.0f}% of its memory.
-- recommendation: Leave headroom: cap the batch size or the KV-cache share (e.g. vLLM gpu_memory_utilization),
--   free tensors you no longer need before the peak phase, use a smaller dtype (bf16/fp8 weights or KV cache),
--   and check memory_churn for allocations the caching allocator could reuse.
-- why: Near capacity the caching allocator must return cached blocks to the driver (cudaFree synchronises the
--   device) or fails with out-of-memory; the batch size that fits is then set by memory, not by compute. Memory
--   allocated before the capture started is invisible to nsys, so the figure is a lower bound there.
WITH cap AS (
    SELECT device_id, max(total_memory_bytes) AS total_memory_bytes
    FROM devices WHERE total_memory_bytes > 0 GROUP BY device_id
),
held AS (
    SELECT t.device_id, t.ts_ns, t.device_allocated_bytes,
           coalesce(lead(t.ts_ns) OVER (PARTITION BY t.device_id ORDER BY t.seq),
                    greatest(t.ts_ns, (SELECT max(end_ns) FROM kernels))) - t.ts_ns AS held_ns
    FROM memory_timeline t
),
above AS (
    SELECT h.device_id, sum(h.held_ns) AS above_ns, min(h.ts_ns) AS first_ns, max(h.ts_ns + h.held_ns) AS last_ns
    FROM held h JOIN cap c USING (device_id)
    WHERE h.device_allocated_bytes * 100.0 >= $min_pct * c.total_memory_bytes
    GROUP BY h.device_id
)
SELECT a.above_ns AS impact_ns, a.first_ns AS start_ns, a.last_ns AS end_ns, p.device_id, p.pid, p.tid,
       CASE WHEN p.peak_pct >= 98 THEN 'high' END AS severity,
       p.peak_bytes, p.total_memory_bytes, p.peak_pct, p.peak_ns,
       coalesce('scope ' || p.phase, 'range ' || p.nvtx_range, 'no annotated range') AS phase_or_range,
       p.phase, p.nvtx_range
FROM memory_peak p
JOIN above a USING (device_id)
