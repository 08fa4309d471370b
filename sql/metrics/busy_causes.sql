-- about: GPU busy time (kernels) of the GPUs with hardware metrics, split by what the counters say happened
--   meanwhile (view busy_ledger: working, resident but stalled, Tensor Cores idle during GEMMs, unmeasured), next to
--   the idle ledger's split of the idle time (idle_causes). Per device; the four add up to the device's kernel busy
--   time. Absent for GPUs without metrics. SM and Tensor activity are time-weighted over the kernels' measured time.
-- metric busy_working_ns: ns, none, device
--   Kernel busy time during which some unit (SM issue, Tensor Cores, DRAM) ran at 30 % of its peak or more.
-- metric busy_stalled_ns: ns, lower, device
--   Kernel busy time with kernels resident but no unit at 30 % of its peak (rule busy_not_working).
-- metric busy_tensor_idle_ns: ns, lower, device
--   Kernel busy time in GEMM kernels with Tensor Active under 20 % (rules tensor_cores_idle, tensor_core_unused).
-- metric busy_unmeasured_ns: ns, none, device
--   Kernel busy time not judged: executions shorter than a sampling period, without samples, or communication.
-- metric kernel_sm_active_pct: pct, none, device
--   SMs Active time-weighted over the measured kernel time (share of SMs with a warp resident).
-- metric kernel_tensor_active_pct: pct, none, device
--   Tensor Active time-weighted over the measured kernel time.
WITH d AS (
    SELECT device_id,
           coalesce(sum(busy_ns) FILTER (WHERE cls = 'working'), 0) AS working_ns,
           coalesce(sum(busy_ns) FILTER (WHERE cls = 'stalled'), 0) AS stalled_ns,
           coalesce(sum(busy_ns) FILTER (WHERE cls = 'tensor_idle'), 0) AS tensor_idle_ns,
           coalesce(sum(busy_ns) FILTER (WHERE cls = 'unmeasured'), 0) AS unmeasured_ns,
           sum(sm_active_pct * dur_ns) FILTER (WHERE cls <> 'unmeasured')
               / nullif(sum(dur_ns) FILTER (WHERE cls <> 'unmeasured' AND sm_active_pct IS NOT NULL), 0) AS sm_pct,
           sum(tensor_active_pct * dur_ns) FILTER (WHERE cls <> 'unmeasured')
               / nullif(sum(dur_ns) FILTER (WHERE cls <> 'unmeasured' AND tensor_active_pct IS NOT NULL), 0)
               AS tensor_pct
    FROM busy_ledger
    GROUP BY device_id
)
SELECT 'busy_working_ns' AS id, CAST(working_ns AS DOUBLE) AS value, device_id FROM d
UNION ALL SELECT 'busy_stalled_ns', stalled_ns, device_id FROM d
UNION ALL SELECT 'busy_tensor_idle_ns', tensor_idle_ns, device_id FROM d
UNION ALL SELECT 'busy_unmeasured_ns', unmeasured_ns, device_id FROM d
UNION ALL SELECT 'kernel_sm_active_pct', sm_pct, device_id FROM d
UNION ALL SELECT 'kernel_tensor_active_pct', tensor_pct, device_id FROM d
