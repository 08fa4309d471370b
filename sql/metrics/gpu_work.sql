-- about: How much GPU work the trace holds: kernels and their durations, copies by direction with the bandwidth
--   they achieved, memsets. Percentiles are interpolated (quantile_cont).
-- metric kernel_count: count, none, trace
--   Kernel executions.
-- metric kernel_time_ns: ns, lower, trace
--   Sum of kernel durations (concurrent kernels add up).
-- metric kernel_dur_p50_ns: ns, none, trace
--   Median kernel duration.
-- metric kernel_dur_p90_ns: ns, none, trace
--   90th percentile kernel duration.
-- metric memcpy_count: count, lower, trace
--   Memory copies.
-- metric memcpy_time_ns: ns, lower, trace
--   Sum of copy durations.
-- metric h2d_bytes: bytes, lower, trace
--   Bytes copied host to device.
-- metric d2h_bytes: bytes, lower, trace
--   Bytes copied device to host.
-- metric d2d_bytes: bytes, none, trace
--   Bytes copied device to device (same or peer device).
-- metric h2d_rate: bytes/s, higher, trace
--   Achieved host-to-device bandwidth of the copies of at least 1 MiB: their bytes / their summed durations. NULL
--   without such copies: a small copy's time is latency and launch, not the link, so 33 kB of 8-byte copies has no
--   bandwidth worth stating.
-- metric d2h_rate: bytes/s, higher, trace
--   Achieved device-to-host bandwidth of the copies of at least 1 MiB, as h2d_rate.
-- metric pageable_copy_count: count, lower, trace
--   Copies from or to pageable (not pinned) host memory.
-- metric memset_count: count, none, trace
--   Memsets.
WITH k AS (
    SELECT count(*) AS n, sum(dur_ns) AS t, quantile_cont(dur_ns, 0.5) AS p50, quantile_cont(dur_ns, 0.9) AS p90
    FROM kernels
),
c AS (
    SELECT count(*) AS n, coalesce(sum(dur_ns), 0) AS t,
           coalesce(sum(bytes) FILTER (WHERE copy_kind_name IN ('HtoD', 'Unified HtoD')), 0) AS h2d,
           coalesce(sum(bytes) FILTER (WHERE copy_kind_name IN ('DtoH', 'Unified DtoH')), 0) AS d2h,
           coalesce(sum(bytes) FILTER (WHERE copy_kind_name IN ('DtoD', 'PtoP', 'Unified DtoD')), 0) AS d2d,
           -- bandwidth only from copies large enough to be bound by the link (1 MiB; see the metric header)
           sum(bytes) FILTER (WHERE copy_kind_name IN ('HtoD', 'Unified HtoD') AND bytes >= 1048576) AS h2d_big,
           sum(dur_ns) FILTER (WHERE copy_kind_name IN ('HtoD', 'Unified HtoD') AND bytes >= 1048576) AS h2d_t,
           sum(bytes) FILTER (WHERE copy_kind_name IN ('DtoH', 'Unified DtoH') AND bytes >= 1048576) AS d2h_big,
           sum(dur_ns) FILTER (WHERE copy_kind_name IN ('DtoH', 'Unified DtoH') AND bytes >= 1048576) AS d2h_t,
           count(*) FILTER (WHERE src_kind = 'Pageable' OR dst_kind = 'Pageable') AS pageable
    FROM memcpy
)
SELECT 'kernel_count' AS id, CAST(n AS DOUBLE) AS value FROM k
UNION ALL SELECT 'kernel_time_ns', coalesce(t, 0) FROM k
UNION ALL SELECT 'kernel_dur_p50_ns', p50 FROM k
UNION ALL SELECT 'kernel_dur_p90_ns', p90 FROM k
UNION ALL SELECT 'memcpy_count', n FROM c
UNION ALL SELECT 'memcpy_time_ns', t FROM c
UNION ALL SELECT 'h2d_bytes', h2d FROM c
UNION ALL SELECT 'd2h_bytes', d2h FROM c
UNION ALL SELECT 'd2d_bytes', d2d FROM c
UNION ALL SELECT 'h2d_rate', h2d_big * 1e9 / nullif(h2d_t, 0) FROM c
UNION ALL SELECT 'd2h_rate', d2h_big * 1e9 / nullif(d2h_t, 0) FROM c
UNION ALL SELECT 'pageable_copy_count', pageable FROM c
UNION ALL SELECT 'memset_count', count(*) FROM memset
