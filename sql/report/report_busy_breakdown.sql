-- report_busy_breakdown: where each GPU's time went inside report_gpu_window: compute only, copy only, compute
-- and copy overlapped, idle. The four parts add up to the window. Grain: one row per device. No parameters.
CREATE OR REPLACE VIEW report_busy_breakdown(
    -- GPU id.
    device_id,
    -- The window length, ns (same for every device).
    window_ns,
    -- Kernels running, no copy, ns.
    compute_only_ns,
    -- Copies running, no kernel, ns.
    copy_only_ns,
    -- Kernels and copies at once, ns.
    overlap_ns,
    -- Nothing running, ns.
    idle_ns,
    -- Share of the window with any GPU work, percent.
    busy_pct
) AS
WITH per_kind AS (
    SELECT device_id,
           CAST(sum(end_ns - start_ns) FILTER (WHERE kind = 'compute') AS BIGINT) AS compute_ns,
           CAST(sum(end_ns - start_ns) FILTER (WHERE kind = 'copy') AS BIGINT) AS copy_ns,
           CAST(sum(end_ns - start_ns) FILTER (WHERE kind = 'all') AS BIGINT) AS busy_ns
    FROM gpu_busy
    WHERE kind IN ('all', 'compute', 'copy')
    GROUP BY device_id
),
filled AS (
    SELECT device_id, coalesce(compute_ns, 0) AS compute_ns, coalesce(copy_ns, 0) AS copy_ns,
           coalesce(busy_ns, 0) AS busy_ns, w.dur_ns AS window_ns
    FROM per_kind, report_gpu_window w
)
SELECT device_id, window_ns,
       busy_ns - copy_ns,
       busy_ns - compute_ns,
       compute_ns + copy_ns - busy_ns,
       window_ns - busy_ns,
       100.0 * busy_ns / nullif(window_ns, 0)
FROM filled
