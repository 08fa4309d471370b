-- report_gpu_metric_steps: the per-step GPU hardware metrics table of the report: for each step (view steps) and
-- GPU with metrics, the time-weighted means over the step's wall time of the metrics that say what the GPU did
-- (gpu_metrics_by_step). A metric the GPU's set lacks is NULL. Grain: one row per (step, device), the first 50
-- in time order (a long run's table would otherwise grow with its steps). No parameters.
CREATE OR REPLACE VIEW report_gpu_metric_steps(
    -- Step id (view steps).
    step_id,
    -- Process of the step.
    pid,
    -- 0-based step number within its process.
    step_index,
    -- Step range name.
    name,
    -- GPU id.
    device_id,
    -- Step start (ns).
    start_ns,
    -- Step wall time (ns).
    dur_ns,
    -- SMs Active, %.
    sm_active_pct,
    -- SM Issue, %.
    sm_issue_pct,
    -- Tensor Active, %.
    tensor_active_pct,
    -- DRAM read + write bandwidth, % of peak.
    dram_pct,
    -- PCIe receive (host to device) throughput, % of peak.
    pcie_rx_pct,
    -- PCIe transmit (device to host) throughput, % of peak.
    pcie_tx_pct,
    -- GPC (SM) clock, MHz.
    gpc_clock_mhz
) AS
SELECT step_id, any_value(pid), any_value(step_index), any_value(name), device_id, any_value(start_ns),
       any_value(end_ns - start_ns),
       max(mean_value) FILTER (WHERE metric_id = 'sm_active_pct'),
       max(mean_value) FILTER (WHERE metric_id = 'sm_issue_pct'),
       max(mean_value) FILTER (WHERE metric_id = 'tensor_active_pct'),
       sum(mean_value) FILTER (WHERE metric_id IN ('dram_read_bw_pct', 'dram_write_bw_pct')),
       max(mean_value) FILTER (WHERE metric_id = 'pcie_rx_bw_pct'),
       max(mean_value) FILTER (WHERE metric_id = 'pcie_tx_bw_pct'),
       max(mean_value) FILTER (WHERE metric_id = 'gpc_clock_mhz')
FROM gpu_metrics_by_step
GROUP BY step_id, device_id
ORDER BY any_value(start_ns), device_id
LIMIT 50
