-- report_bin_grid: the time bins every report chart under the GPU timeline shares (report_timeline_bins,
-- report_gpu_metric_bins): report_n_bins equal bins from the start of report_gpu_window, wide enough to cover it
-- (the last bin may extend past the window's end), so those charts line up bin for bin.
-- params: report_n_bins (SET VARIABLE report_n_bins = 240), number of bins across report_gpu_window.
-- Grain: one row; no row when the trace has no GPU work.
CREATE OR REPLACE VIEW report_bin_grid(
    -- Start of bin 0, ns on the trace timeline.
    t0_ns,
    -- Bin width, ns (at least 1).
    bin_ns,
    -- Number of bins.
    n_bins
) AS
SELECT start_ns,
       greatest(1, CAST(ceil(dur_ns / getvariable('report_n_bins')) AS BIGINT)),
       CAST(getvariable('report_n_bins') AS BIGINT)
FROM report_gpu_window
WHERE start_ns IS NOT NULL
