-- report_gpu_metric_phases: the GPU hardware metrics table of the report: per phase and GPU, the time-weighted
-- means of the metrics that say what the GPU did (gpu_metrics_by_phase; a phase is a named inference phase, else
-- an outermost annotation range). A metric the GPU's set lacks is NULL. Grain: one row per (phase, device) with
-- metrics, at most 50 rows, in time order. No parameters.
CREATE OR REPLACE VIEW report_gpu_metric_phases(
    -- Phase name.
    phase,
    -- GPU id.
    device_id,
    -- First range start of the phase (ns).
    start_ns,
    -- Summed time of the phase's ranges (ns).
    range_ns,
    -- SMs Active, % (SMs with at least one warp resident).
    sm_active_pct,
    -- SM Issue, % (SM cycles issuing an instruction).
    sm_issue_pct,
    -- Tensor Active, % (Tensor pipe busy).
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
SELECT phase, device_id, min(first_ns), any_value(range_ns),
       max(mean_value) FILTER (WHERE metric_id = 'sm_active_pct'),
       max(mean_value) FILTER (WHERE metric_id = 'sm_issue_pct'),
       max(mean_value) FILTER (WHERE metric_id = 'tensor_active_pct'),
       sum(mean_value) FILTER (WHERE metric_id IN ('dram_read_bw_pct', 'dram_write_bw_pct')),
       max(mean_value) FILTER (WHERE metric_id = 'pcie_rx_bw_pct'),
       max(mean_value) FILTER (WHERE metric_id = 'pcie_tx_bw_pct'),
       max(mean_value) FILTER (WHERE metric_id = 'gpc_clock_mhz')
FROM gpu_metrics_by_phase
GROUP BY phase, device_id
ORDER BY min(first_ns), device_id
LIMIT 50
