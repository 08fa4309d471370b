-- report_top_kernels: the kernels that take the most GPU time, by base name (template arguments collapse into
-- one row; `example_name` keeps one full demangled name, the first in sort order so that every run shows the same
-- one). Shares are of summed kernel time on all devices.
-- params: report_top_n (SET VARIABLE report_top_n = 10), rows returned (the rest is folded into no row).
-- Grain: one row per kernel base name, most time first.
CREATE OR REPLACE VIEW report_top_kernels(
    -- Base kernel name (kernels.short_name, else the full name).
    name,
    -- One full demangled name of this group.
    example_name,
    -- Launches.
    instances,
    -- Summed duration, ns.
    total_ns,
    -- Mean duration, ns.
    avg_ns,
    -- Median duration, ns.
    med_ns,
    -- Longest, ns.
    max_ns,
    -- Share of all kernel time, percent.
    time_pct,
    -- Devices it ran on.
    devices
) AS
WITH grouped AS (
    SELECT coalesce(short_name, name) AS name, min(name) AS example_name, count(*) AS instances,
           CAST(sum(dur_ns) AS BIGINT) AS total_ns, avg(dur_ns) AS avg_ns, quantile_cont(dur_ns, 0.5) AS med_ns,
           max(dur_ns) AS max_ns, count(DISTINCT device_id) AS devices
    FROM kernels
    GROUP BY 1
)
SELECT name, example_name, instances, total_ns, avg_ns, med_ns, max_ns,
       100.0 * total_ns / sum(total_ns) OVER (), devices
FROM grouped
ORDER BY total_ns DESC, name
LIMIT getvariable('report_top_n')
