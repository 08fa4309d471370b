-- rule: low_sm_fill
-- title: Kernels with fewer thread blocks than the GPU has SMs
-- severity: auto
-- group_by: device_id
-- param min_kernel_ns = 10000: ignore kernel executions shorter than this (ns); communication kernels (view
--   comm_kernels: NCCL, multimem, custom all-reduce, DeepEP, NVSHMEM, ...) are ignored too, as they use few blocks by
--   design and wait on the interconnect, not on SMs
-- param min_share = 0.01: report a device when the estimated idle SM time is at least this fraction of its active
--   span
-- impact: for each kernel, its duration x the fraction of SMs without a block (1 - blocks / SMs): SM time left idle,
--   expressed as whole-GPU time. Only known when the trace records the SM count (devices.sm_count).
-- summary: {n} kernel shape{s} on {gpu} launch fewer thread blocks than its {sm_count} SMs ({sm_source}):
--   {sum_count:int} of the {device_kernels:int} kernel executions of at least {p_min_kernel_ns:time} there, idling
--   an estimated {impact:time} of GPU time; the costliest, {short_name}, runs {blocks:int} blocks ({count:int}
--   times, {dur_ns:time}).
-- recommendation: Give these kernels more parallelism: a larger batch, fusing consecutive small kernels, smaller
--   tiles or split-K for GEMMs, or running independent small kernels concurrently on separate streams / in one
--   CUDA graph.
-- why: A kernel with fewer blocks than SMs leaves whole SMs idle for its entire duration, however long it runs.
WITH sms AS (
    -- the SM count of the device table only (nsys TARGET_INFO_GPU.smCount, Kineto deviceProperties.numSms)
    SELECT device_id, max(sm_count) AS sm_count, any_value(name) AS device_name
    FROM devices WHERE sm_count > 0 GROUP BY device_id
),
eligible AS (
    -- the denominator: compute kernel executions long enough to be judged on the device
    SELECT k.device_id, k.short_name, k.grid_x * k.grid_y * k.grid_z AS blocks, s.sm_count, k.dur_ns,
           count(*) OVER (PARTITION BY k.device_id) AS device_kernels,
           coalesce(s.device_name, 'GPU ' || k.device_id) || ' per the trace''s device table' AS sm_source
    FROM kernels k JOIN sms s USING (device_id)
    WHERE k.dur_ns >= $min_kernel_ns AND k.name NOT IN (SELECT name FROM comm_kernels)
),
small AS (
    SELECT * FROM eligible WHERE blocks < sm_count
),
shapes AS (
    SELECT device_id, short_name, blocks, any_value(sm_count) AS sm_count, count(*) AS count, sum(dur_ns) AS dur_ns,
           CAST(round(sum(dur_ns) * (1 - blocks / any_value(sm_count))) AS BIGINT) AS idle_ns,
           any_value(device_kernels) AS device_kernels, any_value(sm_source) AS sm_source
    FROM small GROUP BY device_id, short_name, blocks
)
SELECT x.idle_ns AS impact_ns, x.device_id, x.short_name, x.blocks, x.sm_count, x.count, x.dur_ns, x.device_kernels,
       x.sm_source
FROM shapes x JOIN gpu_device_summary d USING (device_id)
QUALIFY sum(x.idle_ns) OVER (PARTITION BY x.device_id) >= $min_share * d.span_ns
