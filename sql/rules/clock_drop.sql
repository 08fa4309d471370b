-- rule: clock_drop
-- title: GPU clock dropped while kernels ran
-- severity: auto
-- group_by: device_id
-- param min_drop = 0.1: report a device whose GPC (SM) clock, time-weighted over its kernels' run time, sits at least
--   this fraction below its reference clock. GPU Boost moves the clock in small steps with load; a sustained drop of
--   10 % or more under kernels is power or thermal throttling, not boost jitter.
-- param min_share = 0.05: report a device when the kernels that ran at the lowered clock take at least this fraction
--   of its kernel busy time
-- impact: for each kernel the busy ledger (view busy_ledger) calls working, its busy time there x (1 - its mean
--   clock / reference clock): the time it would have saved at the reference clock if it scaled with the clock
--   (compute-bound kernels do; memory-bound ones less, so this is an upper bound). Stalled kernels and GEMMs with
--   idle Tensor Cores are left out: their time is already other rules', and a stalled kernel does not speed up
--   with the clock. Only executions at least one sampling period long are measured. The reference is the device's
--   rated clock (devices.clock_rate_hz), else the highest clock sampled.
-- summary: {gpu} ran {sum_dur_ns:time} of kernels at a lowered clock: {short_name} averaged {clock_mhz:.0f} MHz
--   ({drop_pct:.0f}% below the {ref_mhz:.0f} MHz reference; lowest {min_clock_mhz:.0f} MHz) over {dur_ns:time}.
-- recommendation: Check why the GPU throttles: `nvidia-smi -q -d PERFORMANCE` lists the active clock event reasons
--   (SW power cap, HW slowdown, thermal). Under a power cap, heavy Tensor Core work lowers the clock by design;
--   compare runs at the same clocks (nvidia-smi -lgc) and check cooling and power limits before tuning kernels.
-- why: Kernel times scale with the clock: a GPU held 20 % below its rated clock by power or temperature runs
--   compute-bound kernels up to 25 % longer, and timing comparisons between runs at different clocks mislead.
WITH ref AS (
    SELECT m.device_id, coalesce(max(d.clock_rate_hz) / 1e6, max(g.value)) AS ref_mhz
    FROM gpu_metric_info m
    JOIN gpu_metrics g ON g.device_id = m.device_id AND g.metric_id = m.metric_id
    LEFT JOIN devices d ON d.device_id = m.device_id AND d.clock_rate_hz > 0
    WHERE m.metric_id = 'gpc_clock_mhz'
    GROUP BY m.device_id
),
lowest AS (
    SELECT device_id, short_name, min(mean_value) AS min_clock_mhz
    FROM gpu_metrics_by_kernel
    WHERE metric_id = 'gpc_clock_mhz' AND coverage > 0 AND NOT below_period
    GROUP BY device_id, short_name
),
per_name AS (
    SELECT l.device_id, l.short_name, l.count, l.dur_ns, l.busy_ns, l.clock_mhz, w.min_clock_mhz, r.ref_mhz
    FROM busy_ledger l
    JOIN ref r USING (device_id)
    LEFT JOIN lowest w USING (device_id, short_name)
    WHERE l.cls = 'working' AND l.clock_mhz IS NOT NULL
)
SELECT CAST(round(p.busy_ns * (1 - p.clock_mhz / p.ref_mhz)) AS BIGINT) AS impact_ns, p.device_id, p.short_name,
       p.count, p.dur_ns, p.busy_ns, p.clock_mhz, p.min_clock_mhz, p.ref_mhz,
       (1 - p.clock_mhz / p.ref_mhz) * 100 AS drop_pct
FROM per_name p
JOIN gpu_device_summary s USING (device_id)
WHERE p.clock_mhz <= (1 - $min_drop) * p.ref_mhz
QUALIFY sum(p.dur_ns) OVER (PARTITION BY p.device_id) >= $min_share * s.compute_busy_ns
