-- osrt_sum: OS runtime calls summarised by function name, as `nsys stats -r osrt_sum`. No parameters.
WITH summary AS (
    SELECT name,
           CAST(sum(dur_ns) AS BIGINT) AS total, count(*) AS num, avg(dur_ns) AS avg_ns,
           quantile_cont(dur_ns, 0.5) AS med_ns, min(dur_ns) AS min_ns, max(dur_ns) AS max_ns,
           coalesce(stddev_samp(dur_ns), 0) AS std_ns
    FROM osrt_calls
    GROUP BY name
)
SELECT total * 100.0 / sum(total) OVER () AS "Time (%)",
       total AS "Total Time (ns)", num AS "Num Calls", avg_ns AS "Avg (ns)", med_ns AS "Med (ns)",
       min_ns AS "Min (ns)", max_ns AS "Max (ns)", std_ns AS "StdDev (ns)", name AS "Name"
FROM summary
ORDER BY total DESC, name
