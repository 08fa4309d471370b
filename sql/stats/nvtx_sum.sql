-- nvtx_sum: NVTX push/pop and start/end ranges summarised by "domain:name" and style, as `nsys stats -r
-- nvtx_sum`. Ranges left open at the end of capture count until the last NVTX timestamp (the model already
-- closes them that way). NVTX-origin ranges (category 'nvtx') are included, and on PyTorch profiler traces the
-- record_function annotations that play NVTX's role (categories 'user_annotation' and 'profiler_step'; cpu_op and
-- python_function ranges are operators and calls, not annotations). The share's denominator is summed over the
-- ranges, not with a window over the summary: a window holds every summary row, range names included, once more
-- (names can be kilobytes each and all different: 20,000 names of 10 KB took 170 MB more). No parameters.
WITH ranges AS (
    SELECT CASE WHEN domain IS NOT NULL THEN domain || ':' || coalesce(name, '') ELSE name END AS range,
           style, dur_ns
    FROM nvtx_ranges
    WHERE category IN ('nvtx', 'user_annotation', 'profiler_step')
),
summary AS (
    SELECT range, style,
           CAST(sum(dur_ns) AS BIGINT) AS total, count(*) AS num, avg(dur_ns) AS avg_ns,
           quantile_cont(dur_ns, 0.5) AS med_ns, min(dur_ns) AS min_ns, max(dur_ns) AS max_ns,
           coalesce(stddev_samp(dur_ns), 0) AS std_ns
    FROM ranges
    GROUP BY range, style
)
SELECT total * 100.0 / (SELECT sum(dur_ns) FROM ranges) AS "Time (%)",
       total AS "Total Time (ns)", num AS "Instances", avg_ns AS "Avg (ns)", med_ns AS "Med (ns)",
       min_ns AS "Min (ns)", max_ns AS "Max (ns)", std_ns AS "StdDev (ns)", style AS "Style", range AS "Range"
FROM summary
ORDER BY total DESC, range, style
