-- about: GPU memory from allocation events (nsys --cuda-memory-usage, PyTorch profiler profile_memory): the
--   highest memory allocated on each device, its share of the device's memory, and allocation traffic (views
--   memory_peak and memory_churn). Devices without memory events emit nothing.
-- metric memory_peak_bytes: bytes, lower, device
--   Highest GPU memory allocated at once (a lower bound for nsys: allocations made before the capture are unseen).
-- metric memory_peak_pct: pct, lower, device
--   memory_peak_bytes as a share of the device's memory, when the trace records it.
-- metric memory_alloc_count: count, lower, device
--   Allocation events on the device (cudaMalloc and friends, or caching-allocator blocks for Kineto).
-- metric memory_alloc_bytes_per_s: bytes/s, lower, device
--   Bytes allocated per second between the first and last memory event.
-- metric memory_short_lived_pct: pct, lower, device
--   Allocations freed within 10 ms (memory_short_lived_ns), as a share of all allocations.
SELECT 'memory_peak_bytes' AS id, CAST(peak_bytes AS DOUBLE) AS value, device_id FROM memory_peak
UNION ALL SELECT 'memory_peak_pct', peak_pct, device_id FROM memory_peak WHERE peak_pct IS NOT NULL
UNION ALL SELECT 'memory_alloc_count', allocs, device_id FROM memory_churn
UNION ALL SELECT 'memory_alloc_bytes_per_s', alloc_bytes_per_s, device_id FROM memory_churn
UNION ALL SELECT 'memory_short_lived_pct', 100.0 * short_lived_allocs / nullif(allocs, 0), device_id FROM memory_churn
