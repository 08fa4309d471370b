-- rule: nccl_exposed
-- title: Communication not overlapped by compute
-- severity: auto
-- group_by: device_id
-- param min_share = 0.05: report a device when exposed NCCL time is at least this fraction of its active span
-- impact: NCCL kernel time on the device with no other kernel running (view gpu_exposed), shared among the NCCL
--   kernel names in proportion to their time.
-- summary: NCCL kernels kept {gpu} busy {comm_busy_ns:time}, and {impact:time} of it ({share:pct} of the active
--   span) ran with no compute to hide it; the largest is {short_name} ({count:int} calls, {dur_ns:time}).
-- recommendation: Overlap communication with compute: issue collectives asynchronously on their own stream and
--   start the next layer meanwhile (DDP gradient bucketing, FSDP forward/backward prefetch, tensor-parallel
--   async all-reduce / sequence-parallel overlap). If the collectives themselves are slow, check the topology and
--   transport NCCL picked (NCCL_DEBUG=INFO) and the message sizes.
-- why: While a collective runs alone the GPU's compute units mostly wait on the interconnect; every exposed
--   microsecond adds directly to step time.
WITH e AS (
    SELECT device_id, busy_ns AS comm_busy_ns, exposed_ns FROM gpu_exposed WHERE kind = 'comm'
),
names AS (
    SELECT device_id, short_name, count(*) AS count, sum(dur_ns) AS dur_ns
    FROM kernels WHERE name ILIKE '%nccl%' GROUP BY device_id, short_name
)
SELECT CAST(round(e.exposed_ns * n.dur_ns / sum(n.dur_ns) OVER (PARTITION BY n.device_id)) AS BIGINT) AS impact_ns,
       n.device_id, n.short_name, n.count, n.dur_ns, e.comm_busy_ns, e.exposed_ns
FROM names n JOIN e USING (device_id) JOIN gpu_device_summary d USING (device_id)
WHERE e.exposed_ns >= $min_share * d.span_ns
