-- report_gpu_window: the time span the report's GPU charts cover: first GPU operation start to last end over all
-- devices (from gpu_busy, the interval union of GPU work), so every device's chart shares one time axis.
-- One row; NULLs when the trace has no GPU work. No parameters.
CREATE OR REPLACE VIEW report_gpu_window(
    -- Window start, ns on the trace timeline.
    start_ns,
    -- Window end, ns.
    end_ns,
    -- end_ns - start_ns.
    dur_ns
) AS
SELECT min(start_ns), max(end_ns), max(end_ns) - min(start_ns)
FROM gpu_busy
WHERE kind = 'all'
