-- rule: dram_bound_phases
-- title: Phases bound by DRAM bandwidth
-- severity: auto
-- group_by: device_id
-- param min_dram_pct = 70: report a phase whose DRAM read + write bandwidth, % of peak and time-weighted over the
--   phase, reaches this. HBM delivers about 80-90 % of its nominal peak to real kernels, so 70 % averaged over a
--   whole phase (its short pauses included) means its kernels ran at the practical bandwidth limit.
-- param min_phase_ns = 1000000: ignore phases shorter than this (ns): they hold only a few samples
-- impact: the phase's sampled time x the fraction of peak DRAM bandwidth used: the time during which the memory
--   bus, not the SMs, set the pace (faster arithmetic cannot shorten it; moving fewer bytes can).
-- summary: {gpu} ran {n} phase{s} at the DRAM bandwidth limit; {phase} used {dram_pct:.0f}% of peak DRAM bandwidth
--   (read {dram_read_pct:.0f}%, write {dram_write_pct:.0f}%) for {covered_ns:time}, with SM Issue
--   {sm_issue_pct:.0f}% and Tensor Active {tensor_active_pct:.0f}%.
-- recommendation: Move fewer bytes per token: quantise weights and KV cache (FP8/INT8/INT4), fuse memory-bound
--   elementwise kernels, batch more requests per weight read (decode reads every weight once per step), and use
--   paged/flash attention kernels that avoid re-reading the cache.
-- why: A phase at the DRAM bandwidth limit is memory-bound: its time is bytes moved / bandwidth. Faster math or
--   more SMs do not help; only reading and writing fewer bytes, or reusing each byte for more work, does.
WITH p AS (
    SELECT phase, device_id, min(first_ns) AS start_ns, max(last_ns) AS end_ns, max(covered_ns) AS covered_ns,
           max(mean_value) FILTER (WHERE metric_id = 'dram_read_bw_pct') AS dram_read_pct,
           max(mean_value) FILTER (WHERE metric_id = 'dram_write_bw_pct') AS dram_write_pct,
           max(mean_value) FILTER (WHERE metric_id = 'sm_issue_pct') AS sm_issue_pct,
           max(mean_value) FILTER (WHERE metric_id = 'tensor_active_pct') AS tensor_active_pct
    FROM gpu_metrics_by_phase
    GROUP BY phase, device_id
),
judged AS (
    SELECT *, coalesce(dram_read_pct, 0) + coalesce(dram_write_pct, 0) AS dram_pct FROM p
    WHERE dram_read_pct IS NOT NULL OR dram_write_pct IS NOT NULL
)
SELECT CAST(round(covered_ns * least(dram_pct, 100) / 100) AS BIGINT) AS impact_ns, device_id, phase, start_ns, end_ns,
       covered_ns, dram_pct, dram_read_pct, dram_write_pct, sm_issue_pct, tensor_active_pct
FROM judged
WHERE dram_pct >= $min_dram_pct AND end_ns - start_ns >= $min_phase_ns
