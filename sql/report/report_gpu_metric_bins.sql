-- report_gpu_metric_bins: the GPU hardware metrics downsampled for the report's chart under the GPU timeline: the
-- time-weighted mean of each metric over each bin of the timeline's own grid (report_bin_grid: report_n_bins bins
-- across report_gpu_window, the bins of report_timeline_bins), so the two charts share their x axis bin for bin and a
-- 10 kHz series of an hour-long capture becomes a few hundred points. One streaming pass over the samples: each
-- sample is split at the bin edges it crosses (a 100 us sample mostly lies in one bin) and summed per bin, so the
-- cost is a hash aggregate over the samples. (Two ASOF lookups per bin through gpu_metrics_during took 125 s of
-- CPU for 1,440 bins over 7.5 M samples; this takes about 1 s.) Only the metrics the chart draws: SMs Active,
-- Tensor Active, DRAM read and write, PCIe RX and TX.
-- params: report_n_bins (SET VARIABLE report_n_bins = 240), as report_timeline_bins.
-- Grain: one row per (device, bin, metric) for GPUs with metrics, bins without samples included (NULL mean); no
-- rows without metrics.
CREATE OR REPLACE VIEW report_gpu_metric_bins(
    -- GPU id.
    device_id,
    -- Bin number, 0 = first (the same bins as report_timeline_bins).
    bin,
    -- Bin start, ns on the trace timeline.
    bin_start_ns,
    -- Bin width, ns.
    bin_ns,
    -- Stable metric id (gpu_metric_info).
    metric_id,
    -- Time-weighted mean over the sampled part of the bin (NULL where the bin holds no sample).
    mean_value
) AS
WITH drawn AS (
    SELECT device_id, metric_id FROM gpu_metric_info
    WHERE metric_id IN ('sm_active_pct', 'tensor_active_pct', 'dram_read_bw_pct', 'dram_write_bw_pct',
                        'pcie_rx_bw_pct', 'pcie_tx_bw_pct')
),
spread AS (
    SELECT m.device_id, m.metric_id, m.ts_ns, m.end_ns, m.value, g.t0_ns, g.bin_ns,
           unnest(range(greatest(0, (m.ts_ns - g.t0_ns) // g.bin_ns),
                        least(g.n_bins, (m.end_ns - 1 - g.t0_ns) // g.bin_ns + 1))) AS bin
    FROM gpu_metrics m, report_bin_grid g
    WHERE m.metric_id IN (SELECT metric_id FROM drawn)
      AND m.end_ns > g.t0_ns AND m.ts_ns < g.t0_ns + g.n_bins * g.bin_ns
),
pieces AS (
    SELECT device_id, metric_id, bin,
           sum(value * (least(end_ns, t0_ns + (bin + 1) * bin_ns) - greatest(ts_ns, t0_ns + bin * bin_ns))) AS v_ns,
           sum(least(end_ns, t0_ns + (bin + 1) * bin_ns) - greatest(ts_ns, t0_ns + bin * bin_ns)) AS covered_ns
    FROM spread
    GROUP BY device_id, metric_id, bin
),
cells AS (
    SELECT d.device_id, d.metric_id, b.bin, g.t0_ns + b.bin * g.bin_ns AS bin_start_ns, g.bin_ns
    FROM drawn d, report_bin_grid g, (SELECT unnest(range(n_bins)) AS bin FROM report_bin_grid) b
)
SELECT c.device_id, c.bin, c.bin_start_ns, c.bin_ns, c.metric_id, p.v_ns / nullif(p.covered_ns, 0)
FROM cells c
LEFT JOIN pieces p USING (device_id, metric_id, bin)
