-- rule: busy_not_working
-- title: GPU busy but not working: kernels resident while no unit runs near its peak
-- severity: auto
-- group_by: device_id
-- param min_share = 0.05: report a device when such kernels take at least this fraction of its kernel busy time
-- impact: the kernels the busy ledger (view busy_ledger) calls resident but stalled, whose busiest unit (SM issue
--   slots, Tensor pipes, DRAM read or write, % of peak, time-weighted over their executions) stayed under 30 % (the
--   ledger's header says why 30): for each, its busy time in the ledger x (1 - busiest unit % / 100), the time its
--   bounding unit sat idle while the GPU counted as busy, never more than the ledger's stalled time.
--   Only executions at least one sampling period long are measured; shorter ones would be judged by samples shared
--   with their neighbours.
-- summary: {gpu} counted {sum_dur_ns:time} as busy in {n} kernel{s} whose busiest unit averaged under
--   30% of peak (GPU metrics); the costliest, {short_name}, ran {dur_ns:time} with SMs Active
--   {sm_active_pct:.0f}%, SM Issue {sm_issue_pct:.0f}%, Tensor Active {tensor_active_pct:.0f}%, DRAM
--   {dram_pct:.0f}% ({bound_unit} busiest).
-- recommendation: {advice}
-- why: Kernel timestamps say a kernel was resident, not that the GPU worked: a kernel with a handful of blocks, a
--   latency-bound decode step or a kernel waiting on memory latency all count as 100 % busy. The hardware counters
--   show whether the SMs issued instructions, the Tensor Cores computed or DRAM moved data meanwhile.
SELECT CAST(round(l.busy_ns * (1 - l.work_pct / 100)) AS BIGINT) AS impact_ns, l.device_id, l.short_name, l.count,
       l.dur_ns, l.busy_ns, l.work_pct, l.sm_active_pct, l.sm_issue_pct, l.tensor_active_pct,
       coalesce(l.dram_read_pct, 0) + coalesce(l.dram_write_pct, 0) AS dram_pct,
       CASE l.work_pct
            WHEN coalesce(l.tensor_active_pct, 0) THEN 'Tensor Cores'
            WHEN coalesce(l.sm_issue_pct, 0) THEN 'SM issue'
            ELSE 'DRAM' END AS bound_unit,
       CASE WHEN l.sm_active_pct < 50
            THEN 'Most SMs had no warp resident: give these kernels more blocks (larger batch, split-K, smaller tiles), '
                 || 'fuse small kernels or run independent ones concurrently (streams, CUDA graphs).'
            ELSE 'The SMs held warps that mostly waited: the kernels are latency-bound. Raise occupancy or '
                 || 'instruction-level parallelism, batch more work per launch, or use a fused/tuned kernel.' END AS advice
FROM busy_ledger l
JOIN gpu_device_summary s USING (device_id)
WHERE l.owner = 'busy_not_working'
QUALIFY sum(l.dur_ns) OVER (PARTITION BY l.device_id) >= $min_share * s.compute_busy_ns
