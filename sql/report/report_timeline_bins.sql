-- report_timeline_bins: GPU utilisation over time, aggregated into equal bins so a chart of a million-kernel
-- trace stays a few hundred points. Busy time per bin is the interval union clipped to the bin.
-- params: report_n_bins (SET VARIABLE report_n_bins = 240), number of bins across report_gpu_window (report_bin_grid).
-- Grain: one row per (device, bin), empty bins included.
CREATE OR REPLACE VIEW report_timeline_bins(
    -- GPU id.
    device_id,
    -- Bin number, 0 = first.
    bin,
    -- Bin start, ns on the trace timeline.
    bin_start_ns,
    -- Bin width, ns (the last bin may extend past the window end).
    bin_ns,
    -- Time in the bin with at least one kernel running, ns.
    compute_busy_ns,
    -- Time in the bin with at least one memcpy/memset running, ns.
    copy_busy_ns,
    -- Time in the bin with any GPU work, ns.
    busy_ns
) AS
WITH spread AS (
    SELECT i.device_id, i.kind, i.start_ns, i.end_ns, g.t0_ns, g.bin_ns,
           unnest(range((i.start_ns - g.t0_ns) // g.bin_ns, (i.end_ns - 1 - g.t0_ns) // g.bin_ns + 1)) AS bin
    FROM gpu_busy i, report_bin_grid g
    WHERE i.kind IN ('all', 'compute', 'copy')
),
pieces AS (
    SELECT device_id, kind, bin,
           CAST(sum(least(end_ns, t0_ns + (bin + 1) * bin_ns) - greatest(start_ns, t0_ns + bin * bin_ns))
                AS BIGINT) AS ns
    FROM spread
    GROUP BY device_id, kind, bin
),
cells AS (
    SELECT d.device_id, b.bin, g.t0_ns + b.bin * g.bin_ns AS bin_start_ns, g.bin_ns
    FROM (SELECT DISTINCT device_id FROM gpu_busy WHERE kind = 'all') d, report_bin_grid g,
         (SELECT unnest(range(n_bins)) AS bin FROM report_bin_grid) b
)
SELECT c.device_id, c.bin, c.bin_start_ns, c.bin_ns,
       CAST(coalesce(sum(p.ns) FILTER (WHERE p.kind = 'compute'), 0) AS BIGINT),
       CAST(coalesce(sum(p.ns) FILTER (WHERE p.kind = 'copy'), 0) AS BIGINT),
       CAST(coalesce(sum(p.ns) FILTER (WHERE p.kind = 'all'), 0) AS BIGINT)
FROM cells c
LEFT JOIN pieces p ON p.device_id = c.device_id AND p.bin = c.bin
GROUP BY ALL
