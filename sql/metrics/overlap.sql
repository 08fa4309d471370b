-- about: Whether copies and communication kernels (view comm_kernels: NCCL, multimem, custom all-reduce, DeepEP,
--   NVSHMEM, ...) were hidden behind compute (view gpu_exposed), summed over devices.
-- metric comm_busy_ns: ns, none, trace
--   Time with at least one communication kernel running (union per device), summed over devices.
-- metric comm_exposed_ns: ns, lower, trace
--   Communication kernel time with no other kernel running on the device, summed over devices.
-- metric comm_overlap_pct: pct, higher, trace
--   Share of communication busy time overlapped by other kernels.
-- metric copy_exposed_ns: ns, lower, trace
--   Copy (memcpy + memset) time with no kernel running on the device, summed over devices.
-- metric copy_overlap_pct: pct, higher, trace
--   Share of copy busy time overlapped by kernels.
WITH e AS (
    SELECT coalesce(sum(busy_ns) FILTER (WHERE kind = 'comm'), 0) AS comm_busy,
           coalesce(sum(exposed_ns) FILTER (WHERE kind = 'comm'), 0) AS comm_exposed,
           coalesce(sum(overlapped_ns) FILTER (WHERE kind = 'comm'), 0) AS comm_overlapped,
           coalesce(sum(busy_ns) FILTER (WHERE kind = 'copy'), 0) AS copy_busy,
           coalesce(sum(exposed_ns) FILTER (WHERE kind = 'copy'), 0) AS copy_exposed,
           coalesce(sum(overlapped_ns) FILTER (WHERE kind = 'copy'), 0) AS copy_overlapped
    FROM gpu_exposed
)
SELECT 'comm_busy_ns' AS id, CAST(comm_busy AS DOUBLE) AS value FROM e
UNION ALL SELECT 'comm_exposed_ns', comm_exposed FROM e
UNION ALL SELECT 'comm_overlap_pct', comm_overlapped * 100.0 / nullif(comm_busy, 0) FROM e
UNION ALL SELECT 'copy_exposed_ns', copy_exposed FROM e
UNION ALL SELECT 'copy_overlap_pct', copy_overlapped * 100.0 / nullif(copy_busy, 0) FROM e
