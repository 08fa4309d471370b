-- rule: copy_bound
-- title: Memory copies rival compute
-- severity: auto
-- group_by: device_id
-- param min_copy_ratio = 0.5: report a device whose copy busy time is at least this fraction of its kernel busy
--   time ...
-- param min_share = 0.1: ... and at least this fraction of its active span
-- impact: copy time on the device with no kernel running to hide it (view gpu_exposed), shared among copy
--   directions in proportion to their copy time.
-- summary: {gpu} was busy copying for {copy_busy_ns:time} against {compute_busy_ns:time} of kernels; {impact:time} of
--   copying ran with nothing to overlap it. Largest direction: {direction} {bytes:bytes} in {count:int} copies at
--   {rate:rate} achieved{pageable_note}.
-- recommendation: Move fewer bytes: keep weights and reused tensors resident on the GPU instead of copying them per
--   step, copy only what changed, and compress/quantise transfers. Overlap the rest: pinned host memory,
--   non_blocking copies on a separate stream, prefetch the next batch during compute.
-- why: Copies and kernels can run at the same time, but only if the copies are asynchronous from pinned memory on
--   another stream; otherwise the GPU's compute sits idle while data crawls over PCIe.
WITH d AS (
    SELECT s.device_id, s.compute_busy_ns, s.copy_busy_ns, s.span_ns, e.exposed_ns
    FROM gpu_device_summary s JOIN gpu_exposed e ON e.device_id = s.device_id AND e.kind = 'copy'
    WHERE s.copy_busy_ns >= $min_copy_ratio * s.compute_busy_ns AND s.copy_busy_ns >= $min_share * s.span_ns
),
dirs AS (
    SELECT device_id, copy_kind_name AS direction, count(*) AS count, sum(bytes) AS bytes, sum(dur_ns) AS dur_ns,
           sum(bytes) * 1e9 / nullif(sum(dur_ns), 0) AS rate,
           count(*) FILTER (WHERE src_kind = 'Pageable' OR dst_kind = 'Pageable') AS pageable
    FROM memcpy GROUP BY device_id, copy_kind_name
)
SELECT CAST(round(d.exposed_ns * x.dur_ns / sum(x.dur_ns) OVER (PARTITION BY d.device_id)) AS BIGINT) AS impact_ns,
       d.device_id, x.direction, x.count, CAST(x.bytes AS BIGINT) AS bytes, x.dur_ns, x.rate, x.pageable,
       d.copy_busy_ns, d.compute_busy_ns, d.span_ns,
       CASE WHEN x.pageable > 0 THEN ', ' || CAST(x.pageable AS VARCHAR) || ' of them from pageable memory' ELSE ''
       END AS pageable_note
FROM d JOIN dirs x USING (device_id)
